//! The location a photo says it was taken at (EXIF GPS), and the copy of a medium that is
//! stored without it.
//!
//! A resident's photo taken at home carries their home's coordinates to within metres. The
//! service reads them once, for its own plausibility checks, and stores and serves only a
//! copy with the EXIF and XMP blocks removed.

use std::io::Cursor;

use bytes::Bytes;
use exif::{In, Tag, Value};
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::webp::{CHUNK_VP8X, CHUNK_XMP, WebP};
use img_parts::{ImageEXIF, riff::RiffContent};
use serde::Serialize;

use super::{MediaError, MediaType};
use crate::domain::coords::LonLat;

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
    let offset = match &exif.get_field(Tag::OffsetTimeOriginal, In::PRIMARY) {
        Some(exif::Field {
            value: Value::Ascii(o),
            ..
        }) => o
            .first()
            .and_then(|o| dt.parse_offset(o).ok())
            .and(dt.offset),
        _ => None,
    };
    let offset = offset.and_then(|minutes| chrono::FixedOffset::east_opt(i32::from(minutes) * 60));
    Some(match offset {
        Some(offset) => local
            .and_local_timezone(offset)
            .single()?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
    })
}

/// The copy of a medium to store: JPEG, PNG and WebP without their EXIF and XMP blocks (and
/// whatever else can carry a location, see below); the image data itself is left byte for
/// byte as it was, so nothing is re-encoded and nothing is lost. Other types are returned
/// unchanged.
pub fn strip_metadata(media_type: MediaType, bytes: Bytes) -> Result<Bytes, MediaError> {
    let malformed = |e: img_parts::Error| MediaError::MalformedMedia {
        media_type,
        reason: e.to_string(),
    };
    match media_type {
        MediaType::Jpeg => Ok(strip_jpeg(Jpeg::from_bytes(bytes).map_err(malformed)?)),
        MediaType::Png => Ok(strip_png(Png::from_bytes(bytes).map_err(malformed)?)),
        MediaType::Webp => Ok(strip_webp(WebP::from_bytes(bytes).map_err(malformed)?)),
        _ => Ok(bytes),
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
