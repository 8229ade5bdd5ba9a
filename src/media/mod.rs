//! Media attached to a report (photos, one voice recording, one video): what the bytes
//! really are, how many and how large a report may carry, the location a photo says it was
//! taken at, the copy that is stored (without that location), and where it is stored.
//!
//! The intake handler calls [`ingest`] for each part of a multipart report, in order, and
//! puts the result into a [`MediaStorage`] under [`MediaKey::for_report`]. The EXIF location
//! of [`Ingested::exif_location`] is for the caller's own checks (does the photo's place
//! match the report's?) and is never part of the stored copy or a public response.

mod isobmff;
mod metadata;
mod sniff;
mod storage;

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use metadata::{ExifLocation, read_exif_location, strip_metadata};
pub use sniff::{MediaType, sniff};
pub use storage::{MediaKey, MediaStorage, ObjectStoreMedia, StorageError};

/// The three kinds of media a report may carry, as named by the multipart part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Photo,
    Voice,
    Video,
}

impl MediaKind {
    pub const ALL: [MediaKind; 3] = [Self::Photo, Self::Voice, Self::Video];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Voice => "voice",
            Self::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const MIB: u64 = 1024 * 1024;

/// How many media of each kind one report may carry, and how large each may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLimits {
    pub max_photos: usize,
    pub max_photo_bytes: u64,
    pub max_voice: usize,
    pub max_voice_bytes: u64,
    pub max_videos: usize,
    pub max_video_bytes: u64,
}

impl Default for MediaLimits {
    /// Nine photos, one voice recording and one video, as the 随手拍 apps allow (nine is
    /// WeChat's picker limit); sizes fit a phone camera's JPEG or HEIC, a minute or two of
    /// compressed speech and a short clip.
    fn default() -> Self {
        Self {
            max_photos: 9,
            max_photo_bytes: 10 * MIB,
            max_voice: 1,
            max_voice_bytes: 5 * MIB,
            max_videos: 1,
            max_video_bytes: 50 * MIB,
        }
    }
}

impl MediaLimits {
    /// How many media of this kind one report may carry.
    pub fn max_count(&self, kind: MediaKind) -> usize {
        match kind {
            MediaKind::Photo => self.max_photos,
            MediaKind::Voice => self.max_voice,
            MediaKind::Video => self.max_videos,
        }
    }

    /// How many bytes one medium of this kind may have; a streaming reader can stop reading
    /// a part as soon as it passes this.
    pub fn max_bytes(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Photo => self.max_photo_bytes,
            MediaKind::Voice => self.max_voice_bytes,
            MediaKind::Video => self.max_video_bytes,
        }
    }

    /// Refuses the `ordinal`-th medium of `kind` in one report (counting from 1) when the
    /// report may not carry that many.
    pub fn check_count(&self, kind: MediaKind, ordinal: usize) -> Result<(), MediaError> {
        let max = self.max_count(kind);
        if ordinal > max {
            return Err(MediaError::TooManyMedia { kind, max });
        }
        Ok(())
    }

    /// Refuses a medium of `kind` that has `size` bytes when that is more than allowed.
    pub fn check_size(&self, kind: MediaKind, size: u64) -> Result<(), MediaError> {
        let max_bytes = self.max_bytes(kind);
        if size > max_bytes {
            return Err(MediaError::MediaTooLarge {
                kind,
                size,
                max_bytes,
            });
        }
        Ok(())
    }
}

/// Why a medium was refused; [`MediaError::code`] is the stable problem code of the API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The bytes are not one of the types accepted for this kind (a video or a PDF sent as
    /// a photo); `found` names what they are, as a MIME type, `text/plain`, or `unknown`.
    #[error("a {kind} must be {accepted}; this one is {found}", accepted = MediaType::accepted_names(*kind))]
    UnsupportedMediaType { kind: MediaKind, found: String },
    /// The medium has more bytes than its kind allows.
    #[error("a {kind} may have at most {max_bytes} bytes; this one has {size}")]
    MediaTooLarge {
        kind: MediaKind,
        size: u64,
        max_bytes: u64,
    },
    /// The report carries more media of this kind than allowed.
    #[error("a report may carry at most {max} {kind} media")]
    TooManyMedia { kind: MediaKind, max: usize },
    /// The bytes start like an accepted type but its structure cannot be read, so its
    /// metadata cannot be removed either; storing it as it is could publish a location.
    #[error("the {media_type} cannot be read: {reason}")]
    MalformedMedia {
        media_type: MediaType,
        reason: String,
    },
}

impl MediaError {
    /// The stable, machine-readable problem code (`application/problem+json` `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::MediaTooLarge { .. } => "media_too_large",
            Self::TooManyMedia { .. } => "too_many_media",
            Self::MalformedMedia { .. } => "malformed_media",
        }
    }
}

/// One medium, checked and ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    pub media_type: MediaType,
    /// The copy to store: the original bytes with location metadata removed.
    pub stored: Bytes,
    /// SHA-256 of `stored`, lowercase hex, for the media row and integrity checks.
    pub sha256: String,
    /// Where the original says it was taken; private to the caller, never stored with the
    /// copy or shown publicly.
    pub exif_location: Option<ExifLocation>,
}

/// Checks the `ordinal`-th medium of `kind` in a report (counting from 1): count, size and
/// type by its bytes, then reads its EXIF location and removes location metadata from the
/// copy to store.
pub fn ingest(
    kind: MediaKind,
    ordinal: usize,
    bytes: Bytes,
    limits: &MediaLimits,
) -> Result<Ingested, MediaError> {
    limits.check_count(kind, ordinal)?;
    limits.check_size(kind, bytes.len() as u64)?;
    let media_type = sniff(kind, &bytes)?;
    let exif_location = read_exif_location(&bytes);
    let stored = strip_metadata(media_type, bytes)?;
    let sha256 = hex::encode(Sha256::digest(&stored));
    Ok(Ingested {
        media_type,
        stored,
        sha256,
        exif_location,
    })
}
