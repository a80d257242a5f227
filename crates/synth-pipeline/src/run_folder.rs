//! A run folder: what one training run owns on disk besides its checkpoints (which
//! [`synth_core::Checkpoint`] owns): `metrics.jsonl`, the previews in `samples/`, the column
//! description `metadata.toml`, the claim on the folder (a new run never silently replaces
//! an earlier one) and the check that a resumed run is the same run.

use crate::config::{RunConfig, toml_leaves};
use crate::error::{Context, PipelineError, Result, ensure, io};
use std::path::{Path, PathBuf};
use synth_core::checkpoint::CHECKPOINTS_DIR;
use synth_core::{Checkpoint, Manifest, TableMeta};
use synth_data::metadata::{METADATA_FILE, Metadata};
use synth_train::{METRICS_FILE, PREVIEW_DIR};

/// What an earlier run leaves in its run folder.
const RUN_FILES: [&str; 3] = [CHECKPOINTS_DIR, METRICS_FILE, PREVIEW_DIR];

/// A run folder (`train.out_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFolder {
    dir: PathBuf,
}

impl RunFolder {
    /// The run folder at `dir` (nothing is read or created yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunFolder { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The metrics the training loop appends, one JSON line per epoch.
    pub fn metrics_file(&self) -> PathBuf {
        self.dir.join(METRICS_FILE)
    }

    /// The column description written when training starts.
    pub fn metadata_file(&self) -> PathBuf {
        self.dir.join(METADATA_FILE)
    }

    /// Makes sure a fresh run does not silently replace an earlier one: an error naming the
    /// folder and the choices, unless `overwrite` (then the earlier run's checkpoints,
    /// metrics and previews go).
    pub fn claim(&self, overwrite: bool) -> Result<()> {
        let earlier: Vec<PathBuf> = RUN_FILES
            .iter()
            .map(|name| self.dir.join(name))
            .filter(|p| p.exists())
            .collect();
        if earlier.is_empty() {
            return Ok(());
        }
        ensure(overwrite, || {
            format!(
                "run folder {} already holds a run ({}); continue it with --resume, train into a new folder (--out-dir or train.out_dir), or replace it with --overwrite",
                self.dir.display(),
                earlier
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        for path in earlier {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed
                .map_err(io(&path))
                .context("--overwrite: cannot remove the earlier run's files")?;
            tracing::info!(path = %path.display(), "removed the earlier run's files (--overwrite)");
        }
        Ok(())
    }

    /// Writes the column description a run trains with, to be edited and trained from
    /// (`data.metadata`).
    pub fn write_metadata(&self, meta: &TableMeta) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .map_err(io(&self.dir))
            .context("cannot create the run folder")?;
        let written = self.metadata_file();
        Metadata::from_meta(meta).write(&written)?;
        Ok(written)
    }

    /// The checkpoint to resume from, after checking it belongs to this run: the same kind
    /// of model, the same data (`manifest.data_hash`), fewer epochs than `config` asks for,
    /// and no setting changed that changes the model.
    pub fn resume_point(&self, config: &RunConfig, manifest: &Manifest) -> Result<Checkpoint> {
        let checkpoint = Checkpoint::find(&self.dir)
            .context("--resume needs an earlier run in train.out_dir")?;
        let prior = checkpoint.manifest()?;
        let dir = checkpoint.dir();
        ensure(prior.kind == manifest.kind, || {
            format!(
                "{}: checkpoint is a {} model, the config trains {}",
                dir.display(),
                prior.kind,
                manifest.kind
            )
        })?;
        ensure(prior.data_hash == manifest.data_hash, || {
            format!(
                "{}: the data file {}{} changed since this checkpoint was written; resume needs the same data",
                dir.display(),
                config.data.path.display(),
                config
                    .data
                    .labels
                    .as_ref()
                    .map_or(String::new(), |l| format!(
                        " or its label file {}",
                        l.display()
                    ))
            )
        })?;
        ensure(prior.epoch < config.train.epochs, || {
            format!(
                "{}: already trained for {} epochs; raise train.epochs (or pass --epochs) to continue",
                dir.display(),
                prior.epoch
            )
        })?;
        let saved_path = checkpoint.config_file();
        let saved = RunConfig::load(&saved_path)?;
        let changed = changed_settings(&saved, config)?;
        ensure(changed.is_empty(), || {
            format!(
                "--resume continues the run in {} exactly as {} configures it, but these settings differ: {}. Undo the changes (or the --seed), or start a new run in another folder (--out-dir)",
                self.dir.display(),
                saved_path.display(),
                changed.join(", ")
            )
        })?;
        Ok(checkpoint)
    }
}

/// The settings of `new` that differ from `saved`, as `key (saved -> new)`, leaving out those
/// a resumed run may change because they do not change the model: the epoch target, the run
/// folder, the backend, logging, checkpoint and preview cadence, `[eval]`, and the data path
/// (the data itself is checked by hash).
fn changed_settings(saved: &RunConfig, new: &RunConfig) -> Result<Vec<String>> {
    let mut comparable = new.clone();
    let train = &mut comparable.train;
    train.epochs = saved.train.epochs;
    train.out_dir.clone_from(&saved.train.out_dir);
    train.backend = saved.train.backend;
    train.strict_backend = saved.train.strict_backend;
    train.log_every = saved.train.log_every;
    train.checkpoint_every = saved.train.checkpoint_every;
    train.preview_every = saved.train.preview_every;
    comparable.eval.clone_from(&saved.eval);
    comparable.data.path.clone_from(&saved.data.path);
    let flat = |config: &RunConfig| -> Result<Vec<(String, String)>> {
        let value = toml::Value::try_from(config)
            .map_err(|e| PipelineError::Invalid(format!("the config does not serialise: {e}")))?;
        Ok(toml_leaves(&value)
            .into_iter()
            .map(|(key, leaf)| (key, leaf.to_string()))
            .collect())
    };
    let (before, after) = (flat(saved)?, flat(&comparable)?);
    let mut keys: Vec<&String> = before.iter().chain(&after).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let value = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map_or("(unset)".to_string(), |(_, v)| v.clone())
    };
    Ok(keys
        .into_iter()
        .filter_map(|key| {
            let (a, b) = (value(&before, key), value(&after, key));
            (a != b).then(|| format!("{key} ({a} -> {b})"))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(out_dir: &Path, tweak: &str) -> RunConfig {
        RunConfig::parse(&format!(
            "seed = 3\n[data]\npath = \"t.csv\"\n[train]\nepochs = 5\nout_dir = {:?}\n[model]\nkind = \"tvae\"\n{tweak}",
            out_dir.to_str().unwrap()
        ))
        .unwrap()
    }

    /// A folder with an earlier run is refused (naming what it holds) unless overwriting,
    /// which removes exactly the run's files and keeps the user's others.
    #[test]
    fn claiming_refuses_an_earlier_run_unless_overwriting() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = RunFolder::new(tmp.path());
        folder.claim(false).unwrap();
        std::fs::create_dir_all(tmp.path().join("ckpt")).unwrap();
        std::fs::write(folder.metrics_file(), "{}\n").unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
        let refused = folder.claim(false).unwrap_err().to_string();
        assert!(
            refused.contains("already holds a run (ckpt, metrics.jsonl)"),
            "{refused}"
        );
        assert!(refused.contains("--overwrite"), "{refused}");
        folder.claim(true).unwrap();
        assert!(!tmp.path().join("ckpt").exists() && !folder.metrics_file().exists());
        assert!(tmp.path().join("notes.txt").exists());
    }

    /// Settings that change the model are named with both values; the epoch target, the
    /// folder, the backend and the cadences may change.
    #[test]
    fn changed_settings_name_only_what_changes_the_model() {
        let tmp = tempfile::tempdir().unwrap();
        let saved = config(tmp.path(), "embedding_dim = 64\n");
        let mut new = saved.clone();
        new.train.epochs = 50;
        new.train.checkpoint_every = 1;
        new.train.out_dir = tmp.path().join("elsewhere");
        assert_eq!(
            changed_settings(&saved, &new).unwrap(),
            Vec::<String>::new()
        );
        new.seed = 4;
        let changed = config(tmp.path(), "embedding_dim = 32\n");
        let mut both = changed_settings(&saved, &new).unwrap();
        both.extend(changed_settings(&saved, &changed).unwrap());
        assert_eq!(
            both,
            ["seed (3 -> 4)", "model.embedding_dim (64 -> 32)"].map(String::from)
        );
    }
}
