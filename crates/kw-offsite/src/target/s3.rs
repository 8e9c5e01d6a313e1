//! S3-compatible targets (AWS, Backblaze B2, MinIO, Garage, SeaweedFS) through `object_store`.
//!
//! Files up to one part are sent with one PUT; larger ones as a multipart upload whose id and part
//! ETags go into the queue as each part lands, so an upload interrupted by an outage or a restart goes on
//! with the next part instead of starting over. object_store's own retries are kept short: the queue
//! does the patient retrying (with back-off, across restarts).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kw_config::OffsiteConfig;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;

use super::{ObjectInfo, CONNECT_TIMEOUT, MAX_LIST, READ_TIMEOUT};
use crate::queue::{Job, Queue};
use crate::throttle::Throttle;
use crate::OffsiteError;

/// Multipart part size (S3 wants at least 5 MiB for all but the last).
pub(crate) const PART: u64 = 8 << 20;

pub struct S3 {
    store: Arc<AmazonS3>,
    prefix: String,
    label: String,
}

fn err(label: &str, e: object_store::Error) -> OffsiteError {
    OffsiteError::Target(format!("{label}: {e}"))
}

impl S3 {
    pub(super) fn open(cfg: &OffsiteConfig, creds: Option<(String, String)>) -> Result<S3, OffsiteError> {
        let rest = cfg.target.split_once("://").map(|(_, r)| r).unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let Some((key, secret)) = creds else {
            let (k, s) = cfg.credentials_env();
            return Err(OffsiteError::Config(format!(
                "off-site target {:?} has no credentials: set credentials_file, or {k} and {s}",
                cfg.name
            )));
        };
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(READ_TIMEOUT * 5);
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_secs(60),
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(cfg.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_access_key_id(key)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(!cfg.path_style && cfg.endpoint.is_some())
            .with_client_options(options)
            .with_retry(retry);
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e);
        }
        let store = b.build().map_err(|e| OffsiteError::Config(format!("off-site target {:?}: {e}", cfg.name)))?;
        let prefix = prefix.trim_matches('/').to_owned();
        Ok(S3 { store: Arc::new(store), prefix, label: format!("s3://{bucket}") })
    }

    fn path(&self, name: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(name)
        } else {
            ObjPath::from(format!("{}/{name}", self.prefix))
        }
    }

    pub(super) async fn upload(
        &self,
        job: &Job,
        file: &Path,
        queue: &Queue,
        throttle: &mut Throttle,
    ) -> Result<(), OffsiteError> {
        let size = std::fs::metadata(file).map_err(|e| OffsiteError::io(file.display(), e))?.len();
        let path = self.path(&job.object);
        if size <= PART {
            let data = tokio::fs::read(file).await.map_err(|e| OffsiteError::io(file.display(), e))?;
            self.store.put(&path, PutPayload::from(data)).await.map_err(|e| err(&self.label, e))?;
            throttle.sent(size).await;
            return Ok(());
        }
        let id = match &job.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = self.store.create_multipart(&path).await.map_err(|e| err(&self.label, e))?;
                let (q, jid, idc) = (queue.clone(), job.id, id.clone());
                queue.call(move |_| q.set_upload(jid, Some(&idc))).await?;
                id
            }
        };
        let mut parts: Vec<PartId> = job.parts.iter().map(|c| PartId { content_id: c.clone() }).collect();
        let count = size.div_ceil(PART) as usize;
        for idx in parts.len()..count {
            let chunk = read_part(file, idx as u64 * PART, PART).await?;
            let n = chunk.len() as u64;
            let part = match self.store.put_part(&path, &id, idx, PutPayload::from(chunk)).await {
                Ok(p) => p,
                Err(e) => return Err(self.forget_if_gone(job, queue, e).await),
            };
            let (q, jid, etag) = (queue.clone(), job.id, part.content_id.clone());
            queue.call(move |_| q.add_part(jid, &etag)).await?;
            parts.push(part);
            throttle.sent(n).await;
        }
        if let Err(e) = self.store.complete_multipart(&path, &id, parts).await {
            return Err(self.forget_if_gone(job, queue, e).await);
        }
        Ok(())
    }

    /// One PUT of a small object (the probe).
    pub(super) async fn put_small(&self, name: &str, data: Vec<u8>) -> Result<(), OffsiteError> {
        self.store.put(&self.path(name), PutPayload::from(data)).await.map_err(|e| err(&self.label, e))?;
        Ok(())
    }

    /// An upload the target no longer knows (expired, aborted) is forgotten, so the next try starts anew.
    async fn forget_if_gone(&self, job: &Job, queue: &Queue, e: object_store::Error) -> OffsiteError {
        let text = e.to_string();
        if text.contains("NoSuchUpload") || matches!(e, object_store::Error::NotFound { .. }) {
            let (q, jid) = (queue.clone(), job.id);
            let _ = queue.call(move |_| q.set_upload(jid, None)).await;
        }
        err(&self.label, e)
    }

    pub(super) async fn list(&self) -> Result<Vec<ObjectInfo>, OffsiteError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let mut stream = self.store.list(prefix.as_ref());
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            let meta = item.map_err(|e| err(&self.label, e))?;
            let full = meta.location.as_ref();
            let name = full.strip_prefix(strip.as_str()).unwrap_or(full).to_owned();
            out.push(ObjectInfo { name, size: meta.size, modified: Some(meta.last_modified.timestamp_micros()) });
            if out.len() >= MAX_LIST {
                break;
            }
        }
        Ok(out)
    }

    pub(super) async fn fetch(&self, name: &str, out: &mut tokio::fs::File) -> Result<u64, OffsiteError> {
        let got = self.store.get(&self.path(name)).await.map_err(|e| err(&self.label, e))?;
        let mut stream = got.into_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| err(&self.label, e))?;
            out.write_all(&chunk).await.map_err(|e| OffsiteError::io("writing the download", e))?;
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    pub(super) async fn delete(&self, name: &str) -> Result<(), OffsiteError> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(err(&self.label, e)),
        }
    }
}

/// Up to `len` bytes of `file` from `offset`, read off the async runtime.
async fn read_part(file: &Path, offset: u64, len: u64) -> Result<Vec<u8>, OffsiteError> {
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(&file)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    })
    .await
    .map_err(|e| OffsiteError::Io(format!("task: {e}")))?
    .map_err(|e| OffsiteError::io("reading the spool file", e))
}
