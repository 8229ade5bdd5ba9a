//! The location a photo says it was taken at (EXIF GPS), and the copy of a medium that is
//! stored without it.
//!
//! A resident's photo or video taken at home carries their home's coordinates to within
//! metres. The service reads a photo's position once, for its own plausibility checks, and
//! stores and serves only a copy whose location metadata is gone.

use std::io::Cursor;

use bytes::Bytes;
use exif::{In, Tag, Value};
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::webp::{CHUNK_VP8X, CHUNK_XMP, WebP};
use img_parts::{ImageEXIF, riff::RiffContent};
use serde::Serialize;

use super::{MediaError, MediaType, isobmff};
use crate::domain::spatial::coords::LonLat;

/// Where and when the camera says a photo was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExifLocation {
    /// Degrees east, WGS-84: EXIF GPS positions are the receiver's (CIPA DC-008 §4.6.6
    /// GPSMapDatum, "WGS-84" on phones), not the GCJ-02 of Chinese map apps.
    pub lon: f64,
    /// Degrees north, WGS-84.
    pub lat: f64,
    /// DateTimeOriginal as ISO 8601 local time, with OffsetTimeOriginal's offset when the
    /// camera recorded one (`2026-03-15T10:22:01+08:00`), else without (`…T10:22:01`).
    pub taken_at: Option<String>,
}

/// Reads the GPS position (and the time taken) from the EXIF block of a JPEG, PNG, WebP,
/// HEIC or TIFF; `None` when there is no EXIF, no GPS position, or one that cannot be
/// trusted (no N/S or E/W reference, a zero denominator, a position off the globe, or the
/// exact 0°, 0° some phones write when they had no fix).
pub fn read_exif_location(bytes: &[u8]) -> Option<ExifLocation> {
    let exif = exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| {
            e.distill_partial_result(|errors| {
                tracing::debug!(?errors, "EXIF block partly unreadable; using the rest");
            })
        })
        .inspect_err(|e| tracing::debug!(error = %e, "no EXIF block"))
        .ok()?;
    // CIPA DC-008 §4.6.6: GPSStatus "V" means the measurement was interrupted.
    if ascii(&exif, Tag::GPSStatus).is_some_and(|s| s == "V") {
        return None;
    }
    let lat = degrees(&exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'N', b'S')?;
    let lon = degrees(&exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'E', b'W')?;
    if lon == 0.0 && lat == 0.0 {
        return None;
    }
    let position = LonLat::parse(lon, lat).ok()?;
    Some(ExifLocation {
        lon: position.lon,
        lat: position.lat,
        taken_at: taken_at(&exif),
    })
}

/// The first ASCII string of a primary-image field.
fn ascii(exif: &exif::Exif, tag: Tag) -> Option<String> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(strings) => {
            let s = std::str::from_utf8(strings.first()?).ok()?;
            Some(s.trim().to_owned())
        }
        _ => None,
    }
}

/// A GPS latitude or longitude in decimal degrees: three rationals (degrees, minutes,
/// seconds; CIPA DC-008 §4.6.6 GPSLatitude) signed by the reference letter.
fn degrees(exif: &exif::Exif, tag: Tag, reference: Tag, positive: u8, negative: u8) -> Option<f64> {
    let sign = match ascii(exif, reference)?.as_bytes() {
        [r] if *r == positive => 1.0,
        [r] if *r == negative => -1.0,
        _ => return None,
    };
    let Value::Rational(dms) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    let [d, m, s] = dms.as_slice() else {
        return None;
    };
    let part = |r: &exif::Rational| (r.denom != 0).then(|| r.to_f64());
    Some(sign * (part(d)? + part(m)? / 60.0 + part(s)? / 3600.0))
}

fn taken_at(exif: &exif::Exif) -> Option<String> {
    let Value::Ascii(strings) = &exif.get_field(Tag::DateTimeOriginal, In::PRIMARY)?.value else {
        return None;
    };
    let mut dt = exif::DateTime::from_ascii(strings.first()?).ok()?;
    // from_ascii does not check ranges ("month 13"); chrono does.
    let local = chrono::NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?
        .and_hms_opt(dt.hour.into(), dt.minute.into(), dt.second.into())?;
    let offset = ascii(exif, Tag::OffsetTimeOriginal).and_then(|o| {
        dt.parse_offset(o.as_bytes()).ok()?;
        dt.offset
    });
    let offset = offset.and_then(|minutes| chrono::FixedOffset::east_opt(i32::from(minutes) * 60));
    Some(match offset {
        Some(offset) => local
            .and_local_timezone(offset)
            .single()?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
    })
}

/// The copy of a medium to store, without the metadata that can carry a location, and with
/// the picture and sound themselves left byte for byte as they were (nothing is re-encoded):
///
/// - JPEG, PNG and WebP lose their EXIF and XMP blocks (and the other carriers below);
/// - HEIC keeps its structure, with its EXIF and XMP items blanked in place;
/// - MP4, MOV, 3GP and M4A keep their structure, with their user-data and metadata boxes
///   (where phones write the place of recording) blanked in place;
/// - AMR, MP3, AAC, WAV, Ogg and WebM are stored as they came.
pub fn strip_metadata(media_type: MediaType, bytes: Bytes) -> Result<Bytes, MediaError> {
    let malformed = |reason: String| MediaError::MalformedMedia { media_type, reason };
    let unreadable = |e: img_parts::Error| malformed(e.to_string());
    match media_type {
        MediaType::Jpeg => Ok(strip_jpeg(Jpeg::from_bytes(bytes).map_err(unreadable)?)),
        MediaType::Png => Ok(strip_png(Png::from_bytes(bytes).map_err(unreadable)?)),
        MediaType::Webp => Ok(strip_webp(WebP::from_bytes(bytes).map_err(unreadable)?)),
        MediaType::Heic => strip_heif(bytes).map_err(|reason| malformed(reason.to_owned())),
        MediaType::Mp4
        | MediaType::QuickTime
        | MediaType::ThreeGp
        | MediaType::M4a
        | MediaType::ThreeGpAudio => Ok(strip_movie(bytes)),
        MediaType::Amr
        | MediaType::Mp3
        | MediaType::Aac
        | MediaType::Wav
        | MediaType::Ogg
        | MediaType::Opus
        | MediaType::Webm => Ok(bytes),
    }
}

const XMP_FLAG: u8 = 0b0000_0100;
const MPF_PREFIX: &[u8] = b"MPF\0";

/// Removes APP1 (EXIF, XMP and extended XMP all live there), APP13 (Photoshop IRB with IPTC,
/// which has its own place fields) and the APP2 multi-picture index (CIPA DC-007), and cuts
/// what follows the primary image's EOI: the secondary images that index points to
/// (previews, gain maps, depth maps) carry their own EXIF.
fn strip_jpeg(mut jpeg: Jpeg) -> Bytes {
    jpeg.segments_mut().retain(|s| {
        let mpf = s.marker() == markers::APP2 && s.contents().starts_with(MPF_PREFIX);
        !(s.marker() == markers::APP1 || s.marker() == markers::APP13 || mpf)
    });
    let out = jpeg.encoder().bytes();
    match primary_image_end(&out) {
        Some(end) => out.slice(..end),
        None => out,
    }
}

/// Where the primary image of a JPEG file ends (just past its EOI marker), found by walking
/// the marker segments and the entropy-coded scans between them (ITU-T T.81 §B.1.1: inside
/// a scan a data byte 0xFF is stuffed as FF 00, restart markers are FF D0–D7, and any
/// marker may be preceded by fill FFs); `None` if there is no EOI.
fn primary_image_end(jpeg: &[u8]) -> Option<usize> {
    let mut at = 2; // past SOI
    loop {
        at += jpeg.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *jpeg.get(at + 1)? {
            0xFF => at += 1,
            0x00 | 0xD0..=0xD7 => at += 2,
            markers::EOI => return Some(at + 2),
            _ => {
                let length = u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]);
                at += 2 + usize::from(length);
            }
        }
    }
}

/// Removes `eXIf` (PNG 3rd edition §11.3.6) and the text chunks `tEXt`, `zTXt` and `iTXt`:
/// XMP travels in `iTXt` ("XML:com.adobe.xmp"), and ImageMagick and exiftool write whole EXIF
/// blocks into text chunks ("Raw profile type exif").
fn strip_png(mut png: Png) -> Bytes {
    png.chunks_mut()
        .retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt"));
    png.encoder().bytes()
}

/// Removes the `EXIF` and `XMP ` chunks of the extended format and clears their flags in
/// `VP8X` (WebP container specification, "Extended file format").
fn strip_webp(mut webp: WebP) -> Bytes {
    webp.remove_chunks_by_id(CHUNK_XMP);
    // Also settles the VP8X flags for EXIF (and drops VP8X when nothing extended is left),
    // but img-parts leaves the XMP flag alone.
    webp.set_exif(None);
    for chunk in webp.chunks_mut() {
        if chunk.id() == CHUNK_VP8X
            && let RiffContent::Data(data) = chunk.content_mut()
            && let Some(&flags) = data.first()
        {
            let mut cleared = data.to_vec();
            cleared[0] = flags & !XMP_FLAG;
            *data = Bytes::from(cleared);
        }
    }
    webp.encoder().bytes()
}

/// An EXIF item's payload with no fields: TIFF header offset 0 (ISO/IEC 23008-12 A.2.1),
/// then a big-endian TIFF header whose IFD0 has no entries and no successor.
const EMPTY_EXIF_ITEM: &[u8] = b"\0\0\0\0MM\0\x2A\0\0\0\x08\0\0\0\0\0\0";

/// Overwrites each EXIF item with an empty EXIF block (zero-padded) and each XMP item with
/// spaces (whitespace padding is valid XMP, XMP part 1 §7.3.3), in place, so that the item
/// locations and the image items stay exactly as they were.
fn strip_heif(bytes: Bytes) -> Result<Bytes, &'static str> {
    let items = isobmff::heif_metadata_items(&bytes)?;
    if items.is_empty() {
        return Ok(bytes);
    }
    let mut out = bytes.to_vec();
    for (kind, range) in items {
        let item = &mut out[range];
        match kind {
            isobmff::ItemKind::Exif if item.len() >= EMPTY_EXIF_ITEM.len() => {
                let (header, rest) = item.split_at_mut(EMPTY_EXIF_ITEM.len());
                header.copy_from_slice(EMPTY_EXIF_ITEM);
                rest.fill(0);
            }
            isobmff::ItemKind::Exif => item.fill(0),
            isobmff::ItemKind::Xmp => item.fill(b' '),
        }
    }
    Ok(Bytes::from(out))
}

/// Blanks the movie's `udta`, `meta` and XMP boxes in place (see
/// [`isobmff::movie_metadata_boxes`]).
fn strip_movie(bytes: Bytes) -> Bytes {
    let doomed = isobmff::movie_metadata_boxes(&bytes);
    if doomed.is_empty() {
        return bytes;
    }
    let mut out = bytes.to_vec();
    isobmff::blank_boxes(&mut out, &doomed);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fixtures::*;

    // VP8X flag bits (WebP container specification, "Extended file format").
    const ICC_FLAG: u8 = 0b0010_0000;
    const EXIF_FLAG: u8 = 0b0000_1000;

    fn location_of(fields: &[exif::Field]) -> Option<ExifLocation> {
        read_exif_location(&jpeg(&[jfif(), exif_app1(&exif_tiff(fields))]))
    }

    fn xinglongtai_gps_taken_at(date_time_original: &str) -> Vec<exif::Field> {
        let mut fields = xinglongtai_gps();
        fields.push(text_field(exif::Tag::DateTimeOriginal, date_time_original));
        fields
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn the_gps_position_of_a_jpeg_is_read_from_its_degrees_minutes_and_seconds() {
        let location = location_of(&xinglongtai_gps()).expect("a GPS position");
        assert_close(location.lat, 41.1201);
        assert_close(location.lon, 122.0702);
        assert_eq!(location.taken_at, None);
    }

    #[test]
    fn south_and_west_references_make_the_degrees_negative() {
        // Sydney Opera House: 33° 51′ 54″ S = -(33 + 51/60 + 54/3600) = -33.865,
        // 151° 12′ 36″ E = 151.21.
        let sydney = location_of(&gps(dms(33, 51, 5400), "S", dms(151, 12, 3600), "E")).unwrap();
        assert_close(sydney.lat, -33.865);
        assert_close(sydney.lon, 151.21);
        // Trafalgar Square: 51° 30′ 26.64″ N = 51.5074, 0° 7′ 39″ W = -0.1275.
        let london = location_of(&gps(dms(51, 30, 2664), "N", dms(0, 7, 3900), "W")).unwrap();
        assert_close(london.lat, 51.5074);
        assert_close(london.lon, -0.1275);
    }

    #[test]
    fn the_time_taken_carries_the_cameras_utc_offset_when_it_recorded_one() {
        let mut fields = xinglongtai_gps_taken_at("2026:03:15 10:22:01");
        assert_eq!(
            location_of(&fields).unwrap().taken_at.as_deref(),
            Some("2026-03-15T10:22:01")
        );
        fields.push(text_field(exif::Tag::OffsetTimeOriginal, "+08:00"));
        assert_eq!(
            location_of(&fields).unwrap().taken_at.as_deref(),
            Some("2026-03-15T10:22:01+08:00")
        );
    }

    #[test]
    fn an_impossible_date_taken_is_dropped_but_the_position_kept() {
        let location = location_of(&xinglongtai_gps_taken_at("2026:13:45 10:22:01")).unwrap();
        assert_close(location.lat, 41.1201);
        assert_eq!(location.taken_at, None);
    }

    #[test]
    fn positions_that_cannot_be_trusted_are_not_read() {
        let north = || dms(41, 7, 1236);
        let east = || dms(122, 4, 1272);
        let no_gps = [text_field(
            exif::Tag::DateTimeOriginal,
            "2026:03:15 10:22:01",
        )];
        assert_eq!(location_of(&no_gps), None, "no GPS block");
        assert_eq!(location_of(&gps(north(), "", east(), "E")), None, "no N/S");
        assert_eq!(
            location_of(&gps(north(), "N", east(), "X")),
            None,
            "bad E/W"
        );
        let zero_denominator =
            exif::Value::Rational(vec![(41, 1).into(), (7, 0).into(), (0, 1).into()]);
        assert_eq!(
            location_of(&gps(zero_denominator, "N", east(), "E")),
            None,
            "x/0"
        );
        assert_eq!(
            location_of(&gps(dms(91, 0, 0), "N", east(), "E")),
            None,
            "lat > 90"
        );
        assert_eq!(
            location_of(&gps(dms(0, 0, 0), "N", dms(0, 0, 0), "E")),
            None,
            "0°, 0°"
        );
        let mut void = xinglongtai_gps();
        void.push(text_field(exif::Tag::GPSStatus, "V"));
        assert_eq!(location_of(&void), None, "measurement interrupted");
        assert_eq!(read_exif_location(&jpeg(&[jfif()])), None, "no EXIF at all");
        assert_eq!(read_exif_location(b"not an image"), None);
    }

    #[test]
    fn stripping_a_jpeg_removes_exif_and_xmp_and_keeps_the_image_data_byte_for_byte() {
        let original = jpeg(&[
            jfif(),
            exif_app1(&exif_tiff(&xinglongtai_gps())),
            xmp_app1(),
        ]);
        assert!(read_exif_location(&original).is_some());

        let stored = strip_metadata(MediaType::Jpeg, Bytes::from(original)).unwrap();

        assert_eq!(stored, jpeg(&[jfif()]));
        assert_eq!(read_exif_location(&stored), None);
        assert!(
            exif::Reader::new()
                .read_from_container(&mut Cursor::new(&stored))
                .is_err()
        );
    }

    #[test]
    fn stripping_a_jpeg_drops_appended_images_and_their_index() {
        // A multi-picture JPEG (CIPA DC-007): an MPF index in APP2 and, after the primary
        // image's EOI, a second image with its own EXIF position.
        let mpf = segment(0xE2, b"MPF\0MM\0\x2a\0\0\0\x08\0\0");
        let secondary = jpeg(&[exif_app1(&exif_tiff(&xinglongtai_gps()))]);
        let original = [jpeg(&[jfif(), mpf]), secondary].concat();

        let stored = strip_metadata(MediaType::Jpeg, Bytes::from(original)).unwrap();

        assert_eq!(stored, jpeg(&[jfif()]));
    }

    #[test]
    fn the_primary_image_ends_at_the_first_eoi_outside_segments_and_stuffed_bytes() {
        let file = [
            &[0xFF, 0xD8][..],
            &segment(0xDB, &[0xFF, 0xD9, 0x00]), // an FF D9 inside a segment is data
            &segment(0xDA, &[1, 1, 0, 0, 63, 0]),
            &[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56], // stuffed FF, restart marker
            &segment(0xC4, &[0x10]),                     // a table between scans
            &segment(0xDA, &[1, 1, 0, 0, 63, 0]),
            &[0x78, 0xFF, 0xFF, 0xFF, 0xD9], // fill bytes before EOI
            b"trailer",
        ]
        .concat();
        // SOI 2 + DQT 7 + SOS 10 + scan 7 + DHT 5 + SOS 10 + 5 = 46 bytes up to the EOI.
        assert_eq!(primary_image_end(&file), Some(46));
        assert_eq!(primary_image_end(&file[..40]), None);
    }

    #[test]
    fn stripping_a_png_removes_exif_and_text_chunks_and_keeps_the_rest() {
        let exif = png_chunk(b"eXIf", &exif_tiff(&xinglongtai_gps()));
        let xmp = png_chunk(
            b"iTXt",
            &[&b"XML:com.adobe.xmp\0\0\0\0\0"[..], XMP.as_bytes()].concat(),
        );
        let raw = png_chunk(b"tEXt", b"Raw profile type exif\0\nexif\n    4\n45786966\n");
        let gamma = png_chunk(b"gAMA", &45455u32.to_be_bytes());
        let original = png(&[gamma.clone(), exif, xmp, raw]);
        let location = read_exif_location(&original).expect("PNG eXIf is read");
        assert_close(location.lat, 41.1201);

        let stored = strip_metadata(MediaType::Png, Bytes::from(original)).unwrap();

        assert_eq!(stored, png(&[gamma]));
        assert_eq!(read_exif_location(&stored), None);
    }

    #[test]
    fn stripping_a_webp_removes_exif_and_xmp_and_clears_their_flags() {
        let icc = riff_chunk(b"ICCP", b"not really a profile");
        let image = riff_chunk(b"VP8L", VP8L_1X1);
        let original = webp(&[
            vp8x(ICC_FLAG | EXIF_FLAG | XMP_FLAG),
            icc.clone(),
            image.clone(),
            riff_chunk(b"EXIF", &exif_tiff(&xinglongtai_gps())),
            riff_chunk(b"XMP ", XMP.as_bytes()),
        ]);
        let location = read_exif_location(&original).expect("WebP EXIF is read");
        assert_close(location.lon, 122.0702);

        let stored = strip_metadata(MediaType::Webp, Bytes::from(original)).unwrap();

        assert_eq!(stored, webp(&[vp8x(ICC_FLAG), icc, image]));
    }

    #[test]
    fn a_webp_left_with_nothing_extended_becomes_a_simple_webp() {
        let image = riff_chunk(b"VP8L", VP8L_1X1);
        let original = webp(&[
            vp8x(EXIF_FLAG),
            image.clone(),
            riff_chunk(b"EXIF", &exif_tiff(&xinglongtai_gps())),
        ]);
        let stored = strip_metadata(MediaType::Webp, Bytes::from(original)).unwrap();
        assert_eq!(stored, webp(&[image]));
    }

    #[test]
    fn a_truncated_image_is_refused_rather_than_stored_with_its_metadata() {
        let mut truncated = jpeg(&[exif_app1(&exif_tiff(&xinglongtai_gps()))]);
        truncated.truncate(30);
        let err = strip_metadata(MediaType::Jpeg, Bytes::from(truncated)).unwrap_err();
        assert!(matches!(
            err,
            MediaError::MalformedMedia {
                media_type: MediaType::Jpeg,
                ..
            }
        ));
        assert_eq!(err.code(), "malformed_media");
    }

    #[test]
    fn stripping_a_heic_blanks_its_exif_and_xmp_items_in_place() {
        let exif = heif_exif_item(&exif_tiff(&xinglongtai_gps()));
        for exif_in_idat in [false, true] {
            let original = heic_with(&exif, XMP.as_bytes(), exif_in_idat);
            let location = read_exif_location(&original).expect("HEIF EXIF is read");
            assert_close(location.lat, 41.1201);

            let stored = strip_metadata(MediaType::Heic, Bytes::from(original)).unwrap();

            // The same file, with an empty EXIF block padded to the item's length and the
            // XMP packet turned into whitespace of the same length.
            let empty_exif = [
                EMPTY_EXIF_ITEM,
                &vec![0; exif.len() - EMPTY_EXIF_ITEM.len()],
            ]
            .concat();
            let blank_xmp = vec![b' '; XMP.len()];
            assert_eq!(
                stored,
                heic_with(&empty_exif, &blank_xmp, exif_in_idat),
                "idat: {exif_in_idat}"
            );
            assert_eq!(read_exif_location(&stored), None);
        }
    }

    #[test]
    fn a_heic_without_item_information_is_refused() {
        let broken = [
            ftyp(b"heic", &[b"mif1", b"heic"]),
            bmff_box(b"meta", &[0; 4]),
        ]
        .concat();
        let err = strip_metadata(MediaType::Heic, Bytes::from(broken)).unwrap_err();
        assert_eq!(err.code(), "malformed_media");
    }

    #[test]
    fn stripping_a_video_blanks_its_location_boxes_and_leaves_the_tracks() {
        let (udta, meta) = (udta_xyz(), apple_meta());
        let handlers: &[&[u8; 4]] = &[b"vide", b"soun"];
        let original = movie_with(b"qt  ", handlers, &[&udta, &meta], &[&udta]);

        let stored = strip_metadata(MediaType::QuickTime, Bytes::from(original)).unwrap();

        let blanked = movie_with(
            b"qt  ",
            handlers,
            &[&free_like(&udta), &free_like(&meta)],
            &[&free_like(&udta)],
        );
        assert_eq!(stored, blanked);
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains("+41.1201"), "no ISO 6709 position left");
    }

    #[test]
    fn a_voice_recording_in_mp4_loses_its_metadata_too() {
        let udta = udta_xyz();
        let original = movie_with(b"M4A ", &[b"soun"], &[&udta], &[]);
        let stored = strip_metadata(MediaType::M4a, Bytes::from(original)).unwrap();
        assert_eq!(
            stored,
            movie_with(b"M4A ", &[b"soun"], &[&free_like(&udta)], &[])
        );
    }

    #[test]
    fn media_without_location_carriers_are_stored_as_they_came() {
        let cases = [
            (MediaType::Amr, amr()),
            (MediaType::Webm, webm()),
            (MediaType::Mp4, movie(b"isom", &[b"vide"])),
        ];
        for (media_type, bytes) in cases {
            let stored = strip_metadata(media_type, Bytes::from(bytes.clone())).unwrap();
            assert_eq!(stored, bytes, "{media_type}");
        }
    }
}
