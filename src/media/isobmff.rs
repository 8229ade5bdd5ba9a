//! Just enough of the ISO base media file format (ISO/IEC 14496-12, the box structure of
//! MP4, MOV, 3GP and HEIF) to tell audio from video by its tracks, and to find the boxes
//! and items that carry a location so that they can be blanked in place.
//!
//! Blanking rather than removing keeps every offset in the file valid (sample tables and
//! item locations point into `mdat` by absolute offset), so nothing else needs rewriting.

use std::ops::Range;

/// One box: its four-character type, where it starts, and where its payload lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BmffBox {
    pub kind: [u8; 4],
    pub start: usize,
    pub payload: Range<usize>,
}

/// The boxes laid one after another in `buf[range]`; stops at the first header that does
/// not fit, so a truncated or non-box tail yields nothing rather than garbage.
pub(super) fn boxes(buf: &[u8], range: Range<usize>) -> impl Iterator<Item = BmffBox> + '_ {
    let end = range.end.min(buf.len());
    let mut at = range.start;
    std::iter::from_fn(move || {
        let header = buf.get(at..at.checked_add(8)?.min(end))?;
        let size32 = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
        let kind: [u8; 4] = header.get(4..8)?.try_into().ok()?;
        // §4.2: size 1 means a 64-bit size follows the type; size 0 means "to the end".
        let (header_len, size) = match size32 {
            0 => (8, end - at),
            1 => {
                let large = buf.get(at + 8..(at + 16).min(end))?;
                (
                    16,
                    usize::try_from(u64::from_be_bytes(large.try_into().ok()?)).ok()?,
                )
            }
            n => (8, usize::try_from(n).ok()?),
        };
        let box_end = at
            .checked_add(size)
            .filter(|&e| e <= end && size >= header_len)?;
        let found = BmffBox {
            kind,
            start: at,
            payload: at + header_len..box_end,
        };
        at = box_end;
        Some(found)
    })
}

/// The first child of type `kind` directly inside `parent`.
fn child(buf: &[u8], parent: &Range<usize>, kind: &[u8; 4]) -> Option<BmffBox> {
    boxes(buf, parent.clone()).find(|b| &b.kind == kind)
}

fn top_level(buf: &[u8], kind: &[u8; 4]) -> Option<BmffBox> {
    child(buf, &(0..buf.len()), kind)
}

/// The handler type (`vide`, `soun`, `hint`, …) of every track in the movie.
fn track_handlers(buf: &[u8]) -> Vec<[u8; 4]> {
    let Some(moov) = top_level(buf, b"moov") else {
        return Vec::new();
    };
    boxes(buf, moov.payload)
        .filter(|b| &b.kind == b"trak")
        .filter_map(|trak| {
            let mdia = child(buf, &trak.payload, b"mdia")?;
            let hdlr = child(buf, &mdia.payload, b"hdlr")?;
            // §8.4.3: version and flags (4), pre_defined (4), then handler_type (4).
            let at = hdlr.payload.start + 8;
            buf.get(at..at + 4)?.try_into().ok()
        })
        .collect()
}

/// Whether the movie has at least one sound track and no visual track: a voice recording
/// in an MP4 or 3GP container rather than a video.
pub(super) fn is_audio_only(buf: &[u8]) -> bool {
    let handlers = track_handlers(buf);
    handlers.iter().any(|h| h == b"soun") && !handlers.iter().any(|h| h == b"vide")
}

/// The UUID of an XMP packet in a top-level `uuid` box (XMP specification part 3, §1.1.7).
const XMP_UUID: [u8; 16] = [
    0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
];

/// The boxes of a movie that hold descriptive metadata, where phones write the place a
/// video or recording was made: `udta` (Android's `©xyz` ISO 6709 string, 3GPP's `loci`,
/// TS 26.244 §8.2) and `meta` (Apple's `com.apple.quicktime.location.ISO6709`) at the top
/// level, in `moov` and in each `trak`, and XMP `uuid` boxes. None of them is needed to play
/// the media.
pub(super) fn movie_metadata_boxes(buf: &[u8]) -> Vec<BmffBox> {
    let is_metadata = |b: &BmffBox| matches!(&b.kind, b"udta" | b"meta");
    let mut found = Vec::new();
    for top in boxes(buf, 0..buf.len()) {
        let xmp = &top.kind == b"uuid"
            && buf.get(top.payload.start..top.payload.start + 16) == Some(&XMP_UUID[..]);
        if is_metadata(&top) || xmp {
            found.push(top);
        } else if &top.kind == b"moov" {
            for b in boxes(buf, top.payload) {
                if &b.kind == b"trak" {
                    found.extend(boxes(buf, b.payload).filter(is_metadata));
                } else if is_metadata(&b) {
                    found.push(b);
                }
            }
        }
    }
    found
}

/// Turns each box into a `free` box of the same size with a zeroed payload (§8.1.2: the
/// contents of a free space box are irrelevant and may be ignored).
pub(super) fn blank_boxes(buf: &mut [u8], doomed: &[BmffBox]) {
    for b in doomed {
        buf[b.start + 4..b.start + 8].copy_from_slice(b"free");
        buf[b.payload.clone()].fill(0);
    }
}

/// What a HEIF metadata item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemKind {
    Exif,
    Xmp,
}

/// A big-endian reader over one box payload that fails instead of reading past it.
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], payload: &Range<usize>) -> Option<Self> {
        Some(Self {
            buf: buf.get(payload.clone())?,
            at: 0,
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let bytes = self
            .buf
            .get(self.at..self.at + n)
            .ok_or("a HEIF box ends too early")?;
        self.at += n;
        Ok(bytes)
    }

    /// An unsigned integer of `n` bytes (0, 2, 4 or 8; 0 reads as 0).
    fn uint(&mut self, n: usize) -> Result<u64, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |v, &b| (v << 8) | u64::from(b)))
    }

    /// A null-terminated string.
    fn cstr(&mut self) -> Result<&'a [u8], &'static str> {
        let rest = self.buf.get(self.at..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        self.at += (len + 1).min(rest.len());
        Ok(&rest[..len])
    }
}

/// The byte ranges of the EXIF and XMP items of a HEIF file, from `meta`'s item information
/// (`iinf`, ISO/IEC 14496-12 §8.11.6) and item locations (`iloc`, §8.11.3). An EXIF item has
/// type `Exif`; an XMP item has type `mime` and content type `application/rdf+xml`
/// (ISO/IEC 23008-12 Annex A).
pub(super) fn heif_metadata_items(
    buf: &[u8],
) -> Result<Vec<(ItemKind, Range<usize>)>, &'static str> {
    let meta = top_level(buf, b"meta").ok_or("no meta box")?;
    // `meta` is a full box: version and flags before its children.
    let children = meta.payload.start + 4..meta.payload.end;
    let iinf = child(buf, &children, b"iinf").ok_or("no item information")?;
    let mut wanted = Vec::new();
    let mut info = Fields::new(buf, &iinf.payload).ok_or("bad iinf")?;
    let version = info.uint(1)?;
    info.take(3)?;
    info.uint(if version == 0 { 2 } else { 4 })?;
    for infe in boxes(buf, iinf.payload.start + info.at..iinf.payload.end) {
        if &infe.kind != b"infe" {
            continue;
        }
        let mut entry = Fields::new(buf, &infe.payload).ok_or("bad infe")?;
        let version = entry.uint(1)?;
        entry.take(3)?;
        let item_id = match version {
            2 => entry.uint(2)?,
            3 => entry.uint(4)?,
            _ => continue, // versions 0 and 1 carry no item type
        };
        entry.take(2)?; // item_protection_index
        let kind = match entry.take(4)? {
            b"Exif" => Some(ItemKind::Exif),
            b"mime" => {
                entry.cstr()?; // item_name
                (entry.cstr()? == b"application/rdf+xml").then_some(ItemKind::Xmp)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            wanted.push((item_id, kind));
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }

    let iloc = child(buf, &children, b"iloc").ok_or("no item locations")?;
    let idat = child(buf, &children, b"idat");
    let mut loc = Fields::new(buf, &iloc.payload).ok_or("bad iloc")?;
    let version = loc.uint(1)?;
    loc.take(3)?;
    let sizes = loc.uint(2)?;
    let nibble = |shift: u64| usize::try_from((sizes >> shift) & 0xF).unwrap_or(0);
    let (offset_size, length_size, base_offset_size) = (nibble(12), nibble(8), nibble(4));
    let index_size = if version == 0 { 0 } else { nibble(0) };
    let id_size = if version == 2 { 4 } else { 2 };
    let item_count = loc.uint(id_size)?;
    let mut ranges = Vec::new();
    for _ in 0..item_count {
        let item_id = loc.uint(id_size)?;
        let construction_method = if version == 0 { 0 } else { loc.uint(2)? & 0xF };
        loc.take(2)?; // data_reference_index
        let base_offset = loc.uint(base_offset_size)?;
        let extent_count = loc.uint(2)?;
        let wanted_kind = wanted.iter().find(|(id, _)| *id == item_id).map(|w| w.1);
        for _ in 0..extent_count {
            loc.uint(index_size)?;
            let offset = loc.uint(offset_size)?;
            let length = loc.uint(length_size)?;
            let Some(kind) = wanted_kind else { continue };
            // Method 0: offsets in the file; method 1: in `idat`'s payload; method 2
            // (offsets into other items) is not something a camera writes for metadata.
            let within = match construction_method {
                0 => 0..buf.len(),
                1 => idat.as_ref().ok_or("no idat box")?.payload.clone(),
                _ => return Err("metadata item built from other items"),
            };
            let start = base_offset
                .checked_add(offset)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| within.start.checked_add(o))
                .ok_or("item offset out of range")?;
            // A length of 0 means "to the end" of the file or of `idat`.
            let end = match length {
                0 => within.end,
                n => usize::try_from(n)
                    .ok()
                    .and_then(|n| start.checked_add(n))
                    .ok_or("item length out of range")?,
            };
            if start > end || end > within.end {
                return Err("item extent outside the file");
            }
            ranges.push((kind, start..end));
        }
    }
    Ok(ranges)
}
