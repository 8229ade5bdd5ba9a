//! What a medium is, decided by its bytes (magic numbers, via the `infer` crate) and never
//! by its file name or declared `Content-Type`, both of which the client chooses freely.

use std::fmt;
use std::sync::LazyLock;

use serde::Serialize;

use super::{MediaError, MediaKind, isobmff};

/// The media types a report may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    /// HEIF with HEVC-coded images, what iPhones take by default.
    Heic,
    /// AMR narrow-band speech (RFC 4867 §5 storage format), WeChat's and many Android
    /// recorders' voice format.
    Amr,
    Mp3,
    /// AAC in an MPEG-4 container with audio tracks only.
    M4a,
    /// AAC as a raw ADTS stream.
    Aac,
    Wav,
    /// Ogg with Vorbis or another codec that is not Opus.
    Ogg,
    Opus,
    /// A 3GPP container with audio tracks only (Android's voice recorder writes AMR in it).
    ThreeGpAudio,
    Mp4,
    QuickTime,
    Webm,
    ThreeGp,
}

impl MediaType {
    const ALL: [MediaType; 16] = [
        Self::Jpeg,
        Self::Png,
        Self::Webp,
        Self::Heic,
        Self::Amr,
        Self::Mp3,
        Self::M4a,
        Self::Aac,
        Self::Wav,
        Self::Ogg,
        Self::Opus,
        Self::ThreeGpAudio,
        Self::Mp4,
        Self::QuickTime,
        Self::Webm,
        Self::ThreeGp,
    ];

    /// The kind of medium this type is accepted as.
    pub fn kind(self) -> MediaKind {
        match self {
            Self::Jpeg | Self::Png | Self::Webp | Self::Heic => MediaKind::Photo,
            Self::Amr
            | Self::Mp3
            | Self::M4a
            | Self::Aac
            | Self::Wav
            | Self::Ogg
            | Self::Opus
            | Self::ThreeGpAudio => MediaKind::Voice,
            Self::Mp4 | Self::QuickTime | Self::Webm | Self::ThreeGp => MediaKind::Video,
        }
    }

    /// The IANA media type, for `Content-Type` when the medium is served.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
            Self::Amr => "audio/amr",
            Self::Mp3 => "audio/mpeg",
            Self::M4a => "audio/mp4",
            Self::Aac => "audio/aac",
            Self::Wav => "audio/wav",
            Self::Ogg => "audio/ogg",
            Self::Opus => "audio/ogg; codecs=opus",
            Self::ThreeGpAudio => "audio/3gpp",
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
            Self::Webm => "video/webm",
            Self::ThreeGp => "video/3gpp",
        }
    }

    /// The file extension of the stored copy, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Heic => "heic",
            Self::Amr => "amr",
            Self::Mp3 => "mp3",
            Self::M4a => "m4a",
            Self::Aac => "aac",
            Self::Wav => "wav",
            Self::Ogg => "ogg",
            Self::Opus => "opus",
            Self::ThreeGpAudio | Self::ThreeGp => "3gp",
            Self::Mp4 => "mp4",
            Self::QuickTime => "mov",
            Self::Webm => "webm",
        }
    }

    /// A short human name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
            Self::Heic => "HEIC",
            Self::Amr => "AMR",
            Self::Mp3 => "MP3",
            Self::M4a => "M4A",
            Self::Aac => "AAC",
            Self::Wav => "WAV",
            Self::Ogg => "Ogg",
            Self::Opus => "Opus",
            Self::ThreeGpAudio => "3GP audio",
            Self::Mp4 => "MP4",
            Self::QuickTime => "QuickTime",
            Self::Webm => "WebM",
            Self::ThreeGp => "3GP",
        }
    }

    /// The accepted types of `kind`, for error messages ("JPEG, PNG, WebP or HEIC").
    pub(super) fn accepted_names(kind: MediaKind) -> String {
        let names: Vec<&str> = Self::ALL
            .into_iter()
            .filter(|t| t.kind() == kind)
            .map(Self::name)
            .collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<MediaType> for &'static str {
    fn from(t: MediaType) -> Self {
        t.mime()
    }
}

/// `infer` plus the 3GPP family, which it does not know: an ISO-BMFF `ftyp` box whose major
/// brand starts with `3g` (3GPP TS 26.244 §5.4.2: `3gp4`…`3gp9`, `3ge*`, `3gg*`, and
/// 3GPP2's `3g2*`).
static SNIFFER: LazyLock<infer::Infer> = LazyLock::new(|| {
    let mut sniffer = infer::Infer::new();
    sniffer.add("video/3gpp", "3gp", |buf| {
        buf.len() >= 12 && &buf[4..8] == b"ftyp" && &buf[8..10] == b"3g"
    });
    sniffer
});

/// Says which accepted type `bytes` are, if they are one for `kind`.
///
/// The answer comes from the bytes alone. A part that is something else (a video or a PDF
/// sent as a photo, a photo sent as a voice recording) is refused with
/// [`MediaError::UnsupportedMediaType`] naming what it is.
pub fn sniff(kind: MediaKind, bytes: &[u8]) -> Result<MediaType, MediaError> {
    let found = SNIFFER.get(bytes);
    let media_type = found.and_then(|t| from_mime(kind, t.mime_type(), bytes));
    match media_type {
        Some(t) if t.kind() == kind => Ok(t),
        _ => Err(MediaError::UnsupportedMediaType {
            kind,
            found: describe(found, bytes),
        }),
    }
}

fn from_mime(kind: MediaKind, mime: &str, bytes: &[u8]) -> Option<MediaType> {
    Some(match mime {
        "image/jpeg" => MediaType::Jpeg,
        "image/png" => MediaType::Png,
        "image/webp" => MediaType::Webp,
        "image/heif" => MediaType::Heic,
        "audio/amr" => MediaType::Amr,
        "audio/mpeg" => MediaType::Mp3,
        "audio/m4a" => MediaType::M4a,
        "audio/aac" => MediaType::Aac,
        "audio/x-wav" => MediaType::Wav,
        "audio/ogg" => MediaType::Ogg,
        "audio/opus" => MediaType::Opus,
        "video/webm" => MediaType::Webm,
        "video/quicktime" => MediaType::QuickTime,
        // Phones write voice recordings into the same containers as video, often with a
        // generic brand (`isom`, `mp42`, `3gp4`); only the tracks tell them apart.
        "video/mp4" | "video/x-m4v" if kind == MediaKind::Voice => {
            isobmff::is_audio_only(bytes).then_some(MediaType::M4a)?
        }
        "video/3gpp" if kind == MediaKind::Voice => {
            isobmff::is_audio_only(bytes).then_some(MediaType::ThreeGpAudio)?
        }
        "video/mp4" | "video/x-m4v" => MediaType::Mp4,
        "video/3gpp" => MediaType::ThreeGp,
        _ => return None,
    })
}

/// Names what unaccepted bytes are: the MIME type `infer` found, else `text/plain` for
/// UTF-8 text, else `unknown`.
fn describe(found: Option<infer::Type>, bytes: &[u8]) -> String {
    match found {
        Some(t) => t.mime_type().to_owned(),
        None if bytes.is_empty() => "empty".to_owned(),
        None if is_text(bytes) => "text/plain".to_owned(),
        None => "unknown".to_owned(),
    }
}

/// UTF-8 without control characters other than whitespace: what `file(1)` would call text.
fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    })
}
