//! Files in a container through the archive API (what `docker cp` uses). It works on a
//! created-but-never-started container, whose volumes the engine mounts for the call, and on
//! a remote engine, so the deploy history can live in a volume reached through the lock.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::body_full;
use bollard::errors::Error as Bollard;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::{Engine, EngineError};

/// Far above any history file; keeps a stray huge file from filling memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl Engine {
    /// Writes `bytes` as `<dir_path>/<file_name>` (mode 0644, root-owned) in the container;
    /// `dir_path` must exist there. The engine replaces the file in place, not atomically.
    pub async fn put_file(
        &self,
        container: &str,
        dir_path: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<(), EngineError> {
        let path = format!("{}/{file_name}", dir_path.trim_end_matches('/'));
        let archive_error = |reason: String| EngineError::Archive {
            container: container.to_string(),
            path: path.clone(),
            reason,
        };
        let tar = pack(file_name, bytes).map_err(archive_error)?;
        tracing::debug!(%container, %path, bytes = bytes.len(), "writing file");
        let options = UploadToContainerOptionsBuilder::new()
            .path(dir_path)
            .build();
        self.docker
            .upload_to_container(container, Some(options), body_full(tar.into()))
            .await
            .map_err(|source| EngineError::PutFile {
                container: container.to_string(),
                path: path.clone(),
                source,
            })
    }

    /// The content of the regular file at `path` in the container; `None` when there is no
    /// such file. A missing container is an error.
    pub async fn get_file(
        &self,
        container: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, EngineError> {
        tracing::debug!(%container, %path, "reading file");
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let chunks = self
            .docker
            .download_from_container(container, Some(options))
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await;
        let tar = match chunks {
            Ok(tar) => tar,
            Err(e) if is_missing_file(&e) => return Ok(None),
            Err(source) => {
                return Err(EngineError::GetFile {
                    container: container.to_string(),
                    path: path.to_string(),
                    source,
                });
            }
        };
        unpack(&tar)
            .map(Some)
            .map_err(|reason| EngineError::Archive {
                container: container.to_string(),
                path: path.to_string(),
                reason,
            })
    }
}

/// 404 is the answer both for a missing file and a missing container; only the message
/// tells them apart.
fn is_missing_file(e: &Bollard) -> bool {
    matches!(
        e,
        Bollard::DockerResponseServerError { status_code: 404, message }
            if !message.starts_with("No such container")
    )
}

/// A tar holding one regular file.
pub(crate) fn pack(file_name: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    pack_files(&[(file_name, bytes, 0o644)])
}

/// A tar holding regular files: (name, content, mode) each.
pub(crate) fn pack_files(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, String> {
    let mtime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    for (file_name, bytes, mode) in files {
        if file_name.is_empty()
            || file_name.contains('/')
            || *file_name == "."
            || *file_name == ".."
        {
            return Err(format!("`{file_name}` is not a plain file name"));
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, file_name, *bytes)
            .map_err(|e| e.to_string())?;
    }
    builder.into_inner().map_err(|e| e.to_string())
}

/// The one regular file the engine sends for a file path.
pub(crate) fn unpack(tar: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(|e| e.to_string())?;
    let Some(entry) = entries.next() else {
        return Err("the engine sent an empty archive".to_string());
    };
    let entry = entry.map_err(|e| e.to_string())?;
    let kind = entry.header().entry_type();
    if !kind.is_file() {
        return Err(format!("not a regular file (tar entry type {kind:?})"));
    }
    let size = entry.header().size().map_err(|e| e.to_string())?;
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "the file has {size} bytes, more than the {MAX_FILE_BYTES} bgdeploy reads"
        ));
    }
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut content)
        .map_err(|e| e.to_string())?;
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_then_unpack_round_trips() {
        let data = b"line 1\nline 2\n\0binary\xff";
        let tar = pack("history.jsonl", data).expect("packs");
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(unpack(&tar).expect("unpacks"), data);
        assert_eq!(
            unpack(&pack("empty", b"").expect("packs")).expect("unpacks"),
            b""
        );
    }

    #[test]
    fn only_plain_file_names_are_packed() {
        for bad in ["", ".", "..", "a/b", "/etc/passwd"] {
            assert!(pack(bad, b"x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn directories_are_not_files() {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_mode(0o755);
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_data(&mut header, "state/", std::io::empty())
            .expect("appends");
        let tar = builder.into_inner().expect("finishes");
        let err = unpack(&tar).expect_err("a directory");
        assert!(err.contains("not a regular file"), "{err}");
        assert!(unpack(&[0u8; 1024]).is_err());
    }

    #[test]
    fn missing_file_versus_missing_container() {
        let server = |message: &str| Bollard::DockerResponseServerError {
            status_code: 404,
            message: message.into(),
        };
        assert!(is_missing_file(&server(
            "Could not find the file /state/h in container x"
        )));
        assert!(!is_missing_file(&server("No such container: x")));
    }
}
