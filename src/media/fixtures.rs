//! Real, minimal media files assembled byte by byte for the tests, each following its
//! format's specification closely enough that real decoders read it (the JPEG, PNG and WebP
//! below were checked with Pillow 13: they decode, with and without their metadata).

use exif::{Field, In, Rational, Tag, Value};

/// A JPEG marker segment: FF, marker, big-endian length (including itself), payload.
pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).expect("segment fits 64 KiB");
    [&[0xFF, marker][..], &len.to_be_bytes(), payload].concat()
}

/// An 8×8 grey baseline JPEG from its quantisation table to its EOI, without SOI or any
/// APPn: DQT of ones, SOF0 with one component, DC and AC Huffman tables of a single
/// one-bit code each (category 0 and EOB), SOS, and one entropy byte: `00` (DC difference 0,
/// then EOB) padded with 1-bits. It decodes to a uniform grey of 128.
pub fn jpeg_image_data() -> Vec<u8> {
    let one_code = |class_id: u8| [&[class_id, 1][..], &[0; 15], &[0x00]].concat();
    [
        segment(0xDB, &[&[0x00][..], &[1; 64]].concat()),
        segment(0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
        segment(0xC4, &one_code(0x00)),
        segment(0xC4, &one_code(0x10)),
        segment(0xDA, &[1, 1, 0x00, 0, 63, 0]),
        vec![0x3F, 0xFF, 0xD9],
    ]
    .concat()
}

/// SOI, the given APPn segments, then [`jpeg_image_data`].
pub fn jpeg(app_segments: &[Vec<u8>]) -> Vec<u8> {
    [vec![0xFF, 0xD8], app_segments.concat(), jpeg_image_data()].concat()
}

/// The JFIF APP0 segment (JFIF 1.02: version 1.1, no units, 1:1 density, no thumbnail).
pub fn jfif() -> Vec<u8> {
    segment(0xE0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00")
}

/// An EXIF APP1 segment around a TIFF block (CIPA DC-008 §4.5.4).
pub fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    segment(0xE1, &[&b"Exif\0\0"[..], tiff].concat())
}

/// An XMP APP1 segment (XMP specification part 3, §1.1.3) with a GPS position in it.
pub fn xmp_app1() -> Vec<u8> {
    segment(
        0xE1,
        &[&b"http://ns.adobe.com/xap/1.0/\0"[..], XMP.as_bytes()].concat(),
    )
}

pub const XMP: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="41,7.206N" exif:GPSLongitude="122,4.212E"/></rdf:RDF></x:xmpmeta>"#;

/// Degrees, minutes and hundredths of seconds as the three EXIF rationals.
pub fn dms(degrees: u32, minutes: u32, centiseconds: u32) -> Value {
    Value::Rational(vec![
        Rational::from((degrees, 1)),
        Rational::from((minutes, 1)),
        Rational::from((centiseconds, 100)),
    ])
}

fn ascii(s: &str) -> Value {
    Value::Ascii(vec![s.as_bytes().to_vec()])
}

/// The GPS fields of a position, as a camera writes them.
pub fn gps(lat: Value, lat_ref: &str, lon: Value, lon_ref: &str) -> Vec<Field> {
    let field = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    vec![
        field(Tag::GPSVersionID, Value::Byte(vec![2, 3, 0, 0])),
        field(Tag::GPSLatitudeRef, ascii(lat_ref)),
        field(Tag::GPSLatitude, lat),
        field(Tag::GPSLongitudeRef, ascii(lon_ref)),
        field(Tag::GPSLongitude, lon),
    ]
}

/// A primary-image ASCII field (DateTimeOriginal, OffsetTimeOriginal, GPSStatus, …).
pub fn text_field(tag: Tag, value: &str) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value: ascii(value),
    }
}

/// 41° 7′ 12.36″ N, 122° 4′ 12.72″ E: 41 + 7/60 + 12.36/3600 = 41.1201 and
/// 122 + 4/60 + 12.72/3600 = 122.0702, a street in 兴隆台区, Panjin.
pub fn xinglongtai_gps() -> Vec<Field> {
    gps(dms(41, 7, 1236), "N", dms(122, 4, 1272), "E")
}

/// A little-endian TIFF block with these fields, written by kamadak-exif's writer.
pub fn exif_tiff(fields: &[Field]) -> Vec<u8> {
    let mut writer = exif::experimental::Writer::new();
    for field in fields {
        writer.push_field(field);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    writer.write(&mut out, true).expect("EXIF fields encode");
    out.into_inner()
}

/// CRC-32 as PNG uses it (ISO 3309, polynomial 0xEDB88320 reflected; PNG §5.5).
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (0..8).fold(crc ^ u32::from(b), |c, _| {
            if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            }
        })
    })
}

/// A PNG chunk: length, type, data, CRC over type and data (PNG §5.3).
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("chunk fits");
    let crc = crc32(&[&kind[..], data].concat());
    [&len.to_be_bytes()[..], kind, data, &crc.to_be_bytes()].concat()
}

/// PNG's first chunk: a 1×1 8-bit greyscale image.
pub fn png_ihdr() -> Vec<u8> {
    png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0])
}

/// The image data of [`png_ihdr`]: one scanline (filter 0, grey 0x80) in a zlib stream with
/// one stored block (RFC 1950, RFC 1951 §3.2.4) and its Adler-32: a = 1 + 0 + 128 = 129,
/// b = 1 + 129 = 130.
pub fn png_idat() -> Vec<u8> {
    png_chunk(
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0x00, 0x80, 0x00, 0x82, 0x00, 0x81,
        ],
    )
}

/// Signature, IHDR, the given chunks, IDAT, IEND.
pub fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
    [
        b"\x89PNG\r\n\x1a\n".to_vec(),
        png_ihdr(),
        chunks.concat(),
        png_idat(),
        png_chunk(b"IEND", &[]),
    ]
    .concat()
}

/// A 1×1 lossless WebP bitstream (the VP8L chunk's data), as libwebp 1.5 via Pillow 13
/// encoded one red pixel.
pub const VP8L_1X1: &[u8] = &[
    0x2f, 0x00, 0x00, 0x00, 0x00, 0x07, 0x50, 0x8f, 0x22, 0xd7, 0xa3, 0xff, 0x81, 0x88, 0xe8, 0x7f,
    0x00,
];

/// A RIFF chunk: id, little-endian size, data, padded to even length (WebP container
/// specification, "RIFF file format").
pub fn riff_chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("chunk fits");
    let pad: &[u8] = if data.len() % 2 == 1 { &[0] } else { &[] };
    [&id[..], &len.to_le_bytes(), data, pad].concat()
}

/// A WebP file of these chunks.
pub fn webp(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = [&b"WEBP"[..], &chunks.concat()].concat();
    riff_chunk(b"RIFF", &body)
}

/// A VP8X chunk for a 1×1 canvas with these flags (bit 3 EXIF, bit 2 XMP).
pub fn vp8x(flags: u8) -> Vec<u8> {
    riff_chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0])
}

/// An ISO-BMFF box (ISO/IEC 14496-12 §4.2) with a 32-bit size.
pub fn bmff_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let size = u32::try_from(payload.len() + 8).expect("box fits");
    [&size.to_be_bytes()[..], kind, payload].concat()
}

/// An `ftyp` box: major brand, minor version 0, compatible brands.
pub fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let brands: Vec<u8> = compatible.iter().flat_map(|b| b.iter().copied()).collect();
    bmff_box(b"ftyp", &[&major[..], &[0; 4], &brands].concat())
}

/// A movie (`ftyp` then `moov`) with one track per handler type (`vide`, `soun`), each
/// `trak/mdia/hdlr` as §8.4.3 lays it out, and an empty `mdat`.
pub fn movie(major: &[u8; 4], handlers: &[&[u8; 4]]) -> Vec<u8> {
    movie_with(major, handlers, &[], &[])
}

/// [`movie`] with extra boxes at the end of `moov` and of each `trak`.
pub fn movie_with(
    major: &[u8; 4],
    handlers: &[&[u8; 4]],
    moov_extra: &[&[u8]],
    trak_extra: &[&[u8]],
) -> Vec<u8> {
    let traks: Vec<u8> = handlers
        .iter()
        .flat_map(|h| {
            let hdlr = bmff_box(b"hdlr", &[&[0; 8][..], &h[..], &[0; 12], b"\0"].concat());
            bmff_box(
                b"trak",
                &[bmff_box(b"mdia", &hdlr), trak_extra.concat()].concat(),
            )
        })
        .collect();
    [
        ftyp(major, &[major, b"isom"]),
        bmff_box(b"moov", &[traks, moov_extra.concat()].concat()),
        bmff_box(b"mdat", &[]),
    ]
    .concat()
}

/// A `free` box as long as `original` (a whole box), with a zero payload.
pub fn free_like(original: &[u8]) -> Vec<u8> {
    bmff_box(b"free", &vec![0; original.len() - 8])
}

/// Android's location in a video: `udta/©xyz` with an ISO 6709 string.
pub fn udta_xyz() -> Vec<u8> {
    let place = b"+41.1201+122.0702/";
    let len = u16::try_from(place.len()).expect("short");
    let xyz = bmff_box(
        b"\xA9xyz",
        &[&len.to_be_bytes()[..], &[0x15, 0xC7], place].concat(),
    );
    bmff_box(b"udta", &xyz)
}

/// Apple's location in a video: a `meta` box whose key list names
/// `com.apple.quicktime.location.ISO6709` and whose item list holds the string.
pub fn apple_meta() -> Vec<u8> {
    let key = b"com.apple.quicktime.location.ISO6709";
    let keys = bmff_box(
        b"keys",
        &[&[0; 4][..], &1u32.to_be_bytes(), &bmff_box(b"mdta", key)].concat(),
    );
    let data = bmff_box(
        b"data",
        &[&[0, 0, 0, 1, 0, 0, 0, 0][..], b"+41.1201+122.0702+004.000/"].concat(),
    );
    let ilst = bmff_box(b"ilst", &bmff_box(&1u32.to_be_bytes(), &data));
    bmff_box(
        b"meta",
        &[
            bmff_box(b"hdlr", &[&[0; 8][..], b"mdta", &[0; 13]].concat()),
            keys,
            ilst,
        ]
        .concat(),
    )
}

/// The payload of a HEIF EXIF item: the offset of the TIFF header (0), then the TIFF block
/// (ISO/IEC 23008-12 A.2.1).
pub fn heif_exif_item(tiff: &[u8]) -> Vec<u8> {
    [&[0; 4][..], tiff].concat()
}

/// A HEIC file as iPhones lay it out, reduced to its structure: `ftyp` (heic, mif1), `meta`
/// with an `iinf` of three items (the image, `Exif`, and XMP as a `mime` item of type
/// `application/rdf+xml`) and an `iloc` (version 1, 4-byte offsets and lengths) that puts the
/// image and the XMP in `mdat` (construction method 0) and the EXIF either in `mdat` too or
/// in the `meta`'s own `idat` (method 1).
pub fn heic_with(exif_item: &[u8], xmp: &[u8], exif_in_idat: bool) -> Vec<u8> {
    let image: &[u8] = b"\0\0\0\x10not really HEVC";
    let full = |version: u8| [version, 0, 0, 0];
    let infe = |id: u16, kind: &[u8; 4], extra: &[u8]| {
        bmff_box(
            b"infe",
            &[&full(2)[..], &id.to_be_bytes(), &[0, 0], kind, b"\0", extra].concat(),
        )
    };
    let iinf = bmff_box(
        b"iinf",
        &[
            &full(0)[..],
            &3u16.to_be_bytes(),
            &infe(1, b"hvc1", &[]),
            &infe(2, b"Exif", &[]),
            &infe(3, b"mime", b"application/rdf+xml\0"),
        ]
        .concat(),
    );
    let idat = if exif_in_idat {
        bmff_box(b"idat", exif_item)
    } else {
        Vec::new()
    };
    let meta = |offsets: [u32; 3]| {
        let item = |id: u16, method: u16, offset: u32, length: usize| {
            let length = u32::try_from(length).expect("short");
            [
                &id.to_be_bytes()[..],
                &method.to_be_bytes(),
                &[0, 0],
                &[0, 1],
                &offset.to_be_bytes(),
                &length.to_be_bytes(),
            ]
            .concat()
        };
        let iloc = bmff_box(
            b"iloc",
            &[
                &full(1)[..],
                &[0x44, 0x00], // offset_size 4, length_size 4, base_offset_size 0, index_size 0
                &3u16.to_be_bytes(),
                &item(1, 0, offsets[0], image.len()),
                &item(2, u16::from(exif_in_idat), offsets[1], exif_item.len()),
                &item(3, 0, offsets[2], xmp.len()),
            ]
            .concat(),
        );
        let hdlr = bmff_box(
            b"hdlr",
            &[&full(0)[..], &[0; 4], b"pict", &[0; 13]].concat(),
        );
        bmff_box(
            b"meta",
            &[&full(0)[..], &hdlr, &iinf, &iloc, &idat].concat(),
        )
    };
    let ftyp = ftyp(b"heic", &[b"mif1", b"heic"]);
    let mdat_items = if exif_in_idat {
        [image, xmp].concat()
    } else {
        [image, exif_item, xmp].concat()
    };
    // Offsets are absolute; the meta box has the same length whatever they are.
    let mdat_start = ftyp.len() + meta([0; 3]).len() + 8;
    let at = |n: usize| u32::try_from(n).expect("small file");
    let offsets = if exif_in_idat {
        [at(mdat_start), 0, at(mdat_start + image.len())]
    } else {
        [
            at(mdat_start),
            at(mdat_start + image.len()),
            at(mdat_start + image.len() + exif_item.len()),
        ]
    };
    [ftyp, meta(offsets), bmff_box(b"mdat", &mdat_items)].concat()
}

/// A WebM file's start: the EBML header with DocType "webm" (Matroska/WebM, RFC 9559 §8.1),
/// then a Segment of unknown size holding a Void element, long enough for `infer`, which
/// looks at the first 256 bytes.
pub fn webm() -> Vec<u8> {
    let header: &[u8] = &[
        0x42, 0x86, 0x81, 0x01, // EBMLVersion 1
        0x42, 0xF7, 0x81, 0x01, // EBMLReadVersion 1
        0x42, 0xF2, 0x81, 0x04, // EBMLMaxIDLength 4
        0x42, 0xF3, 0x81, 0x08, // EBMLMaxSizeLength 8
        0x42, 0x82, 0x84, b'w', b'e', b'b', b'm', // DocType "webm"
        0x42, 0x87, 0x81, 0x04, // DocTypeVersion 4
        0x42, 0x85, 0x81, 0x02, // DocTypeReadVersion 2
    ];
    let len = u8::try_from(header.len()).expect("short header");
    [
        &[0x1A, 0x45, 0xDF, 0xA3, 0x80 | len][..],
        header,
        &[
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
        &[0xEC, 0x40, 0xFF],
        &[0; 255],
    ]
    .concat()
}

/// AMR-NB storage format (RFC 4867 §5): the magic `#!AMR\n`, then two 12.2 kbit/s frames
/// (header 0x3C: mode 7, quality 1; 31 bytes of speech each).
pub fn amr() -> Vec<u8> {
    let frame = [&[0x3C][..], &[0x55; 31]].concat();
    [&b"#!AMR\n"[..], &frame, &frame].concat()
}

/// An MP3 with an empty ID3v2.4 tag, then one MPEG-1 Layer III frame header
/// (128 kbit/s, 44.1 kHz).
pub fn mp3() -> Vec<u8> {
    [
        &b"ID3\x04\x00\x00\x00\x00\x00\x00"[..],
        &[0xFF, 0xFB, 0x90, 0x64],
        &[0; 32],
    ]
    .concat()
}

/// An ADTS AAC frame header (ISO/IEC 13818-7 §6.2: sync FFF, MPEG-4, no CRC).
pub fn adts() -> Vec<u8> {
    [&[0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC][..], &[0; 9]].concat()
}

/// A WAV file: RIFF/WAVE with a PCM `fmt ` chunk (mono, 8 kHz, 16 bit) and an empty `data`.
pub fn wav() -> Vec<u8> {
    let fmt = [
        &1u16.to_le_bytes()[..],
        &1u16.to_le_bytes(),
        &8000u32.to_le_bytes(),
        &16000u32.to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
    ]
    .concat();
    let body = [
        &b"WAVE"[..],
        &riff_chunk(b"fmt ", &fmt),
        &riff_chunk(b"data", &[]),
    ]
    .concat();
    riff_chunk(b"RIFF", &body)
}

/// The first Ogg page (RFC 3533 §6: 27-byte header, one lacing value) carrying `packet`.
fn ogg_page(packet: &[u8]) -> Vec<u8> {
    let lacing = u8::try_from(packet.len()).expect("one segment");
    [
        &b"OggS\x00\x02"[..], // capture pattern, version 0, beginning of stream
        &[0; 8],              // granule position
        &1u32.to_le_bytes(),  // stream serial number
        &[0; 4],              // page sequence number
        &[0; 4],              // checksum (not checked by sniffing)
        &[1, lacing],
        packet,
    ]
    .concat()
}

/// Ogg Opus: the identification header `OpusHead` (RFC 7845 §5.1), mono, 48 kHz.
pub fn ogg_opus() -> Vec<u8> {
    let head = [
        &b"OpusHead\x01\x01"[..],
        &312u16.to_le_bytes(),
        &48000u32.to_le_bytes(),
        &[0, 0, 0],
    ]
    .concat();
    ogg_page(&head)
}

/// Ogg Vorbis: the identification header (Vorbis I §4.2.2), mono, 44.1 kHz.
pub fn ogg_vorbis() -> Vec<u8> {
    let head = [
        &b"\x01vorbis"[..],
        &[0; 4],
        &[1],
        &44100u32.to_le_bytes(),
        &[0; 12],
        &[0xB8, 0x01],
    ]
    .concat();
    ogg_page(&head)
}

/// The start of a PDF document.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec()
}

/// The start of a Windows executable: the DOS header's `MZ`.
pub fn exe() -> Vec<u8> {
    [&b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"[..], &[0; 54]].concat()
}
