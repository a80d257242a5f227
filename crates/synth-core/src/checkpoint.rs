//! The checkpoint folder, in one place: its layout, its atomic writing and how one is found.
//!
//! A run folder holds `ckpt/epoch-NNNN/` folders, each with the model's own files (weights,
//! optimizer state, transformer: whatever its [`crate::Trainable::save`] writes), the
//! resolved run config ([`CONFIG_FILE`]) and the manifest ([`MANIFEST_FILE`]); beside them
//! `ckpt/latest` names the newest and `ckpt/best` the best-scored. A checkpoint is written
//! into a temporary folder and renamed into place, so a folder either holds a whole
//! checkpoint or does not exist, and `latest` moves only after the rename.

use crate::fsutil::{write_atomic, write_dir_atomic};
use crate::manifest::{Manifest, ManifestError};
use crate::train::BoxError;
use std::path::{Path, PathBuf};

pub use crate::manifest::MANIFEST_FILE;
/// File name of the resolved run config inside a checkpoint folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Folder of a run folder that holds its checkpoints.
pub const CHECKPOINTS_DIR: &str = "ckpt";
/// Pointer file (in [`CHECKPOINTS_DIR`]) naming the newest checkpoint folder.
pub const LATEST_FILE: &str = "latest";
/// Pointer file (in [`CHECKPOINTS_DIR`]) naming the best-scored checkpoint folder.
pub const BEST_FILE: &str = "best";

/// Writing or finding a checkpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Writing a file of the run folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The model failed to save itself.
    #[error(
        "saving checkpoint {path}: {source}; it was not written and ckpt/latest still names the previous checkpoint (free disk space or fix the folder, then continue with --resume)"
    )]
    Save {
        /// The checkpoint folder.
        path: PathBuf,
        /// The model's error.
        source: BoxError,
    },
    /// Creating, renaming or replacing a checkpoint folder failed.
    #[error("writing a checkpoint folder: {0}")]
    Folder(#[from] std::io::Error),
    /// A pointer file names something other than a checkpoint folder beside it.
    #[error(
        "{path} names `{name}`, which is not a checkpoint folder (epoch-NNNN) beside it; the run folder is damaged or was tampered with: pass a checkpoint folder (ckpt/epoch-NNNN) instead"
    )]
    BadPointer {
        /// The pointer file.
        path: PathBuf,
        /// What it names (at most 80 characters).
        name: String,
    },
    /// No checkpoint could be found where one was expected.
    #[error(
        "{path}: no checkpoint found (expected a checkpoint folder with {MANIFEST_FILE}, or a run/ckpt folder with a `{LATEST_FILE}` pointer)"
    )]
    NoCheckpoint {
        /// The path given.
        path: PathBuf,
    },
}

/// A checkpoint folder that holds a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// Writes `run_dir/ckpt/epoch-NNNN/` (the epoch from `manifest`) atomically: the files
    /// `save` writes into the folder it is given, the resolved config and the manifest; then
    /// points `ckpt/latest` at it.
    pub fn write(
        run_dir: &Path,
        manifest: &Manifest,
        config_toml: &str,
        save: impl FnOnce(&Path) -> Result<(), BoxError>,
    ) -> Result<Self, CheckpointError> {
        let root = run_dir.join(CHECKPOINTS_DIR);
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let name = format!("epoch-{:04}", manifest.epoch);
        let dir = root.join(&name);
        write_dir_atomic(&dir, |tmp| {
            save(tmp).map_err(|source| CheckpointError::Save {
                path: dir.clone(),
                source,
            })?;
            std::fs::write(tmp.join(CONFIG_FILE), config_toml)
                .map_err(io(&dir.join(CONFIG_FILE)))?;
            std::fs::write(tmp.join(MANIFEST_FILE), manifest.to_toml())
                .map_err(io(&dir.join(MANIFEST_FILE)))
        })?;
        let latest = root.join(LATEST_FILE);
        write_atomic(&latest, name.as_bytes()).map_err(io(&latest))?;
        Ok(Checkpoint { dir })
    }

    /// The checkpoint `path` refers to: a checkpoint folder itself, a `ckpt` folder with a
    /// `latest` pointer, or a run folder containing `ckpt/latest`.
    pub fn find(path: &Path) -> Result<Self, CheckpointError> {
        if path.join(MANIFEST_FILE).is_file() {
            return Ok(Checkpoint {
                dir: path.to_path_buf(),
            });
        }
        for root in [path.to_path_buf(), path.join(CHECKPOINTS_DIR)] {
            if let Ok(name) = std::fs::read_to_string(root.join(LATEST_FILE)) {
                let name = name.trim();
                if !is_checkpoint_name(name) {
                    return Err(CheckpointError::BadPointer {
                        path: root.join(LATEST_FILE),
                        name: name.chars().take(80).collect(),
                    });
                }
                let dir = root.join(name);
                if dir.join(MANIFEST_FILE).is_file() {
                    return Ok(Checkpoint { dir });
                }
            }
        }
        Err(CheckpointError::NoCheckpoint {
            path: path.to_path_buf(),
        })
    }

    /// The checkpoint folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint folder, owned.
    pub fn into_dir(self) -> PathBuf {
        self.dir
    }

    /// Reads and checks its manifest.
    pub fn manifest(&self) -> Result<Manifest, ManifestError> {
        Manifest::load(&self.dir)
    }

    /// Its resolved run config.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Points the run's `ckpt/best` at this checkpoint.
    pub fn mark_best(&self) -> Result<(), CheckpointError> {
        let root = self.dir.parent().unwrap_or(Path::new("."));
        let path = root.join(BEST_FILE);
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        write_atomic(&path, name.as_bytes()).map_err(io(&path))
    }
}

/// `epoch-` followed by digits: the only names a pointer file may hold (never a path).
fn is_checkpoint_name(name: &str) -> bool {
    name.strip_prefix("epoch-")
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::manifest;

    #[test]
    fn a_written_checkpoint_is_whole_found_and_marked() {
        let run = tempfile::tempdir().unwrap();
        let written = Checkpoint::write(run.path(), &manifest(), "seed = 7\n", |dir| {
            Ok(std::fs::write(dir.join("weights.bin"), b"w")?)
        })
        .unwrap();
        let dir = run.path().join("ckpt/epoch-0003");
        assert_eq!(written.dir(), dir);
        assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), b"w");
        assert_eq!(
            std::fs::read_to_string(written.config_file()).unwrap(),
            "seed = 7\n"
        );
        assert_eq!(written.manifest().unwrap(), manifest());
        // from the run folder, the ckpt folder or the checkpoint itself
        for path in [
            run.path().to_path_buf(),
            run.path().join("ckpt"),
            dir.clone(),
        ] {
            assert_eq!(Checkpoint::find(&path).unwrap(), written);
        }
        written.mark_best().unwrap();
        assert_eq!(
            std::fs::read_to_string(run.path().join("ckpt/best")).unwrap(),
            "epoch-0003"
        );

        // a model that fails to save leaves no folder, and `latest` names the last good one
        let mut next = manifest();
        next.epoch = 4;
        let err = Checkpoint::write(run.path(), &next, "", |_| Err("disk full".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("disk full") && err.contains("epoch-0004"),
            "{err}"
        );
        assert!(!run.path().join("ckpt/epoch-0004").exists());
        assert_eq!(Checkpoint::find(run.path()).unwrap(), written);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            Checkpoint::find(empty.path()),
            Err(CheckpointError::NoCheckpoint { .. })
        ));
    }
}
