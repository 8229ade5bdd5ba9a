//! Where stored media live: a small trait, so the service does not care whether the bytes
//! sit on the local disk (the default) or in an S3-compatible bucket, and one implementation
//! over the `object_store` crate, which provides both.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::MediaType;

/// Why the media store failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A key segment is empty, `.` or `..`, or has a character other than ASCII letters,
    /// digits, `-`, `_` and `.`; such keys could escape the store's root or collide.
    #[error("media key {0:?} is not a valid key")]
    InvalidKey(String),
    /// Nothing is stored under this key.
    #[error("no media stored under {0}")]
    NotFound(MediaKey),
    /// The backend (disk, bucket) failed; the cause is for the log, not for clients.
    #[error("media store failed: {0}")]
    Backend(#[source] object_store::Error),
}

/// The key of one stored medium: `/`-separated segments of ASCII letters, digits, `-`, `_`
/// and `.`, none of them empty, `.` or `..`, so a key maps to a path under the store's root
/// and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaKey(String);

impl MediaKey {
    pub fn parse(key: &str) -> Result<Self, StorageError> {
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if key.split('/').all(segment_ok) {
            Ok(Self(key.to_owned()))
        } else {
            Err(StorageError::InvalidKey(key.to_owned()))
        }
    }

    /// `reports/<case_id>/<n>.<ext>`: the `n`-th medium of a report (counting from 1), with
    /// the extension of its real type.
    pub fn for_report(
        case_id: &str,
        n: usize,
        media_type: MediaType,
    ) -> Result<Self, StorageError> {
        if case_id.contains('/') {
            return Err(StorageError::InvalidKey(case_id.to_owned()));
        }
        Self::parse(&format!("reports/{case_id}/{n}.{}", media_type.extension()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn path(&self) -> object_store::path::Path {
        // Every segment is already a valid object_store path part (letters, digits, `-_.`),
        // so `from` does no percent-encoding here and the key maps one to one.
        object_store::path::Path::from_iter(self.0.split('/'))
    }
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Stores media bytes by key.
#[async_trait]
pub trait MediaStorage: Send + Sync {
    /// Stores `bytes` under `key`, replacing what was there. When this returns, the bytes
    /// are durable: a report that acknowledges them never loses them.
    async fn put(&self, key: &MediaKey, bytes: Bytes) -> Result<(), StorageError>;
    /// The bytes stored under `key`, or [`StorageError::NotFound`].
    async fn get(&self, key: &MediaKey) -> Result<Bytes, StorageError>;
    /// Removes what is stored under `key`; removing a key that holds nothing succeeds, so a
    /// clean-up after a failed intake can be retried.
    async fn delete(&self, key: &MediaKey) -> Result<(), StorageError>;
}

/// [`MediaStorage`] over any `object_store` backend: the local file system by default
/// ([`ObjectStoreMedia::local`]), an S3-compatible bucket by passing
/// `object_store::aws::AmazonS3Builder`'s store to [`ObjectStoreMedia::new`] (with the crate's
/// `aws` feature).
#[derive(Debug, Clone)]
pub struct ObjectStoreMedia {
    store: Arc<dyn ObjectStore>,
}

impl ObjectStoreMedia {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Media as files under `root` (created if missing), each key a relative path. Writes go
    /// to a temporary file that is renamed into place and fsynced with its directory, as
    /// durable as an S3 PUT.
    pub fn local(root: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(root).map_err(|e| {
            StorageError::Backend(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })
        })?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(StorageError::Backend)?
            .with_fsync(true);
        Ok(Self::new(Arc::new(store)))
    }
}

#[async_trait]
impl MediaStorage for ObjectStoreMedia {
    async fn put(&self, key: &MediaKey, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&key.path(), PutPayload::from(bytes))
            .await
            .map_err(StorageError::Backend)?;
        Ok(())
    }

    async fn get(&self, key: &MediaKey) -> Result<Bytes, StorageError> {
        let not_found = |e| match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound(key.clone()),
            e => StorageError::Backend(e),
        };
        let found = self.store.get(&key.path()).await.map_err(not_found)?;
        found.bytes().await.map_err(not_found)
    }

    async fn delete(&self, key: &MediaKey) -> Result<(), StorageError> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::Backend(e)),
        }
    }
}
