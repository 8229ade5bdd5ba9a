//! Just enough of the ISO base media file format (ISO/IEC 14496-12, the box structure of
//! MP4, MOV, 3GP and HEIF) to tell audio from video by the tracks.

use std::ops::Range;

/// One box: its four-character type and where its payload lies in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BmffBox {
    pub kind: [u8; 4],
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
            payload: at + header_len..box_end,
        };
        at = box_end;
        Some(found)
    })
}

/// The first child of type `kind` directly inside `parent`.
pub(super) fn child(buf: &[u8], parent: &Range<usize>, kind: &[u8; 4]) -> Option<BmffBox> {
    boxes(buf, parent.clone()).find(|b| &b.kind == kind)
}

/// The handler type (`vide`, `soun`, `hint`, …) of every track in the movie.
fn track_handlers(buf: &[u8]) -> Vec<[u8; 4]> {
    let Some(moov) = boxes(buf, 0..buf.len()).find(|b| &b.kind == b"moov") else {
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
