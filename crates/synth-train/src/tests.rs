use super::*;
use synth_core::checkpoint::{CONFIG_FILE, LATEST_FILE};

/// The checkpoint folder `path` refers to.
fn resolve(path: &Path) -> Result<PathBuf, CheckpointError> {
    Checkpoint::find(path).map(Checkpoint::into_dir)
}

/// A toy model: a random walk whose steps come from a per-epoch seeded generator, so that
/// resuming must reproduce an uninterrupted run exactly.
struct Walk {
    position: f64,
    state: u64,
    losses: Vec<f64>,
    fail_save: bool,
    /// From this epoch (0-based) on, the loss is NaN.
    diverge_at: Option<usize>,
    /// In this epoch (0-based), the position becomes infinite while the losses stay finite.
    overflow_at: Option<usize>,
    epoch: usize,
}

impl Walk {
    fn new() -> Self {
        Walk {
            position: 0.0,
            state: 0,
            losses: Vec::new(),
            fail_save: false,
            diverge_at: None,
            overflow_at: None,
            epoch: 0,
        }
    }

    fn load(dir: &Path) -> Self {
        let text = std::fs::read_to_string(dir.join("walk.txt")).unwrap();
        Walk {
            position: text.trim().parse().unwrap(),
            ..Walk::new()
        }
    }
}

impl Trainable for Walk {
    fn steps_per_epoch(&self) -> usize {
        5
    }
    fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
        self.state = synth_core::seed::derive_seed(3, "walk", epoch as u64);
    }
    fn train_step(&mut self) {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.position += (self.state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        // capped like a clipped loss, so that only the weight check sees an overflow
        self.losses.push(self.position.abs().min(1e6));
        if self.overflow_at == Some(self.epoch) {
            self.position = f64::INFINITY;
        }
    }
    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        let mut mean = self.losses.iter().sum::<f64>() / self.losses.len() as f64;
        self.losses.clear();
        if self.diverge_at.is_some_and(|e| self.epoch >= e) {
            mean = f64::NAN;
        }
        vec![("loss", mean)]
    }
    fn non_finite_network(&self) -> Option<&'static str> {
        (!self.position.is_finite()).then_some("walker")
    }
    fn save(&self, dir: &Path) -> Result<(), BoxError> {
        if self.fail_save {
            return Err("disk full".into());
        }
        std::fs::write(dir.join("walk.txt"), format!("{:?}", self.position))?;
        Ok(())
    }
    fn write_preview(&self, dir: &Path, epoch: usize) -> Result<Option<PathBuf>, BoxError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{epoch}.txt"));
        std::fs::write(&path, format!("{:?}", self.position))?;
        Ok(Some(path))
    }
}

fn manifest() -> Manifest {
    Manifest {
        format_version: synth_core::manifest::FORMAT_VERSION,
        kind: "walk".into(),
        synth_version: "0".into(),
        burn_version: "0".into(),
        backend: "cpu".into(),
        seed: 3,
        epoch: 0,
        step: 0,
        data_hash: "x".into(),
        privacy: None,
    }
}

fn options(dir: &Path, epochs: usize) -> TrainOptions {
    TrainOptions {
        epochs,
        checkpoint_every: 2,
        log_every: 2,
        preview_every: 3,
        out_dir: dir.to_path_buf(),
        progress: false,
        score_every: 0,
        stop: None,
        on_epoch: None,
    }
}

/// Scores each checkpoint by a fixed list, in order, and records what it was shown.
struct ListScorer {
    scores: Vec<f64>,
    seen: Vec<PathBuf>,
}

impl CheckpointScorer for ListScorer {
    fn score(&mut self, dir: &Path) -> Result<Vec<(&'static str, f64)>, BoxError> {
        assert!(
            dir.join("walk.txt").is_file(),
            "scored before it was written"
        );
        self.seen.push(dir.to_path_buf());
        let s = self.scores[self.seen.len() - 1];
        Ok(vec![("quality", s), ("other", -s)])
    }
}

#[test]
fn scored_checkpoints_are_logged_and_the_best_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk::new();
    let opts = TrainOptions {
        checkpoint_every: 0,
        score_every: 2,
        ..options(dir.path(), 5)
    };
    let mut scorer = ListScorer {
        scores: vec![0.5, 0.9, 0.7],
        seen: Vec::new(),
    };
    train_scored(&mut walk, &opts, manifest(), "", Some(&mut scorer)).unwrap();
    // Scored after epochs 2 and 4 and at the end; each had its checkpoint written first.
    let ckpt = dir.path().join("ckpt");
    assert_eq!(
        scorer.seen,
        [2, 4, 5].map(|e| ckpt.join(format!("epoch-{e:04}")))
    );
    assert_eq!(
        std::fs::read_to_string(ckpt.join(BEST_FILE)).unwrap(),
        "epoch-0004"
    );
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[3]["eval_quality"], 0.9);
    assert_eq!(lines[3]["eval_other"], -0.9);
    assert_eq!(lines[3]["eval_score"], 0.9);
    assert!(lines[2].get("eval_quality").is_none());
    // A resumed run remembers the best score: a lower one does not move the pointer.
    let mut walk = Walk::load(&ckpt.join("epoch-0005"));
    let mut later = manifest();
    later.epoch = 5;
    later.step = 25;
    let mut scorer = ListScorer {
        scores: vec![0.8],
        seen: Vec::new(),
    };
    train_scored(
        &mut walk,
        &opts.clone_with_epochs(6),
        later,
        "",
        Some(&mut scorer),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(ckpt.join(BEST_FILE)).unwrap(),
        "epoch-0004"
    );
}

#[test]
fn checkpoints_metrics_and_latest_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk::new();
    let report = train(&mut walk, &options(dir.path(), 5), manifest(), "seed = 3\n").unwrap();
    assert_eq!((report.epochs, report.steps), (5, 25));
    let ckpt = dir.path().join("ckpt");
    let mut names: Vec<String> = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["epoch-0002", "epoch-0004", "epoch-0005", "latest"]);
    assert_eq!(resolve(dir.path()).unwrap(), ckpt.join("epoch-0005"));
    assert_eq!(resolve(&ckpt).unwrap(), ckpt.join("epoch-0005"));
    let m = Manifest::load(&ckpt.join("epoch-0004")).unwrap();
    assert_eq!((m.epoch, m.step), (4, 20));
    assert_eq!(
        std::fs::read_to_string(ckpt.join("epoch-0004").join(CONFIG_FILE)).unwrap(),
        "seed = 3\n"
    );
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["epoch"], 5);
    assert_eq!(lines[4]["step"], 25);
    assert!(lines[4]["loss"].as_f64().unwrap() >= 0.0);
    assert!(resolve(&dir.path().join("nothing")).is_err());
    // previews every 3 epochs: of 5 epochs, after the third only
    let previews: Vec<_> = std::fs::read_dir(dir.path().join(PREVIEW_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(previews, ["3.txt"]);
}

#[test]
fn resume_replays_an_uninterrupted_run() {
    let whole = tempfile::tempdir().unwrap();
    let mut uninterrupted = Walk::new();
    train(
        &mut uninterrupted,
        &options(whole.path(), 6),
        manifest(),
        "",
    )
    .unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut first = Walk::new();
    train(
        &mut first,
        &options(split.path(), 6).clone_with_epochs(4),
        manifest(),
        "",
    )
    .unwrap();
    let ckpt = resolve(split.path()).unwrap();
    let mut resumed = Walk::load(&ckpt);
    let report = train(
        &mut resumed,
        &options(split.path(), 6),
        Manifest::load(&ckpt).unwrap(),
        "",
    )
    .unwrap();
    assert_eq!(report.epochs, 6);
    assert_eq!(resumed.position, uninterrupted.position);
    let strip = |text: String| -> Vec<(u64, f64)> {
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["epoch"].as_u64().unwrap(), v["loss"].as_f64().unwrap())
            })
            .collect()
    };
    let read = |dir: &Path| std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert_eq!(strip(read(split.path())), strip(read(whole.path())));
}

#[test]
fn failed_save_leaves_previous_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk::new();
    train(&mut walk, &options(dir.path(), 2), manifest(), "").unwrap();
    walk.fail_save = true;
    let err = train(
        &mut walk,
        &options(dir.path(), 4),
        Manifest {
            epoch: 2,
            step: 10,
            ..manifest()
        },
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    let latest = resolve(dir.path()).unwrap();
    assert!(latest.ends_with("epoch-0002"));
    assert!(!dir.path().join("ckpt/epoch-0004").exists());
    let leftovers = std::fs::read_dir(dir.path().join("ckpt")).unwrap().count();
    assert_eq!(leftovers, 2, "only epoch-0002 and latest remain");
}

impl TrainOptions {
    fn clone_with_epochs(&self, epochs: usize) -> Self {
        TrainOptions {
            epochs,
            ..self.clone()
        }
    }
}

#[test]
fn latest_may_only_name_a_checkpoint_folder_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk::new();
    train(&mut walk, &options(dir.path(), 2), manifest(), "").unwrap();
    let latest = dir.path().join("ckpt").join(LATEST_FILE);
    // A checkpoint outside ckpt/, reachable by a relative or an absolute path.
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(
        dir.path().join("ckpt/epoch-0002/manifest.toml"),
        outside.join("manifest.toml"),
    )
    .unwrap();
    for name in [
        "../elsewhere",
        outside.to_str().unwrap(),
        "epoch-",
        "epoch-12/../../elsewhere",
    ] {
        std::fs::write(&latest, name).unwrap();
        let err = resolve(dir.path()).unwrap_err();
        assert!(
            matches!(err, CheckpointError::BadPointer { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("epoch-NNNN"), "{err}");
    }
    std::fs::write(&latest, "epoch-0002\n").unwrap();
    assert_eq!(
        resolve(dir.path()).unwrap(),
        dir.path().join("ckpt/epoch-0002")
    );
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk {
        diverge_at: Some(2),
        ..Walk::new()
    };
    let err = train(&mut walk, &options(dir.path(), 5), manifest(), "").unwrap_err();
    let good = dir.path().join("ckpt/epoch-0002");
    assert!(
        matches!(&err, TrainError::Diverged { epoch: 3, step: 2, loss: "loss", last_checkpoint: Some(p), .. } if *p == good),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("NaN") && msg.contains("epoch-0002"), "{msg}");
    // Nothing of the diverged epoch was written.
    assert_eq!(resolve(dir.path()).unwrap(), good);
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
}

#[test]
fn non_finite_weights_stop_training_and_keep_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut walk = Walk {
        overflow_at: Some(3),
        ..Walk::new()
    };
    let err = train(&mut walk, &options(dir.path(), 6), manifest(), "").unwrap_err();
    let good = dir.path().join("ckpt/epoch-0002");
    assert!(
        matches!(&err, TrainError::NonFiniteWeights { epoch: 4, network: "walker", last_checkpoint: Some(p) } if *p == good),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("walker holds NaN or infinite weights after epoch 4"),
        "{err}"
    );
    assert_eq!(resolve(dir.path()).unwrap(), good);
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "epochs 1-3 logged, not 4");
}

/// Raises the stop flag as epoch `at` begins, as a Ctrl-C during that epoch would.
struct StopDuring {
    walk: Walk,
    at: usize,
    stop: Arc<AtomicBool>,
}

impl Trainable for StopDuring {
    fn steps_per_epoch(&self) -> usize {
        self.walk.steps_per_epoch()
    }
    fn begin_epoch(&mut self, epoch: usize) {
        if epoch == self.at {
            self.stop.store(true, Ordering::SeqCst);
        }
        self.walk.begin_epoch(epoch);
    }
    fn train_step(&mut self) {
        self.walk.train_step();
    }
    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        self.walk.take_losses()
    }
    fn non_finite_network(&self) -> Option<&'static str> {
        self.walk.non_finite_network()
    }
    fn save(&self, dir: &Path) -> Result<(), BoxError> {
        self.walk.save(dir)
    }
}

#[test]
fn a_stop_request_finishes_the_epoch_saves_it_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut model = StopDuring {
        walk: Walk::new(),
        at: 2,
        stop: stop.clone(),
    };
    let opts = TrainOptions {
        checkpoint_every: 0,
        stop: Some(stop),
        ..options(dir.path(), 5)
    };
    let err = train(&mut model, &opts, manifest(), "").unwrap_err();
    let saved = dir.path().join("ckpt/epoch-0003");
    assert!(
        matches!(&err, TrainError::Interrupted { epoch: 3, epochs: 5, checkpoint } if *checkpoint == saved),
        "{err}"
    );
    assert!(err.to_string().contains("--resume"), "{err}");
    assert_eq!(resolve(dir.path()).unwrap(), saved);
    // Resuming from the interrupted run's checkpoint ends where an uninterrupted run ends.
    let mut resumed = Walk::load(&saved);
    let mut later = manifest();
    later.epoch = 3;
    later.step = 15;
    train(&mut resumed, &options(dir.path(), 5), later, "").unwrap();
    let whole = tempfile::tempdir().unwrap();
    let mut straight = Walk::new();
    train(&mut straight, &options(whole.path(), 5), manifest(), "").unwrap();
    assert_eq!(resumed.position, straight.position);
}

/// The epoch observer hears every epoch with its losses, in order, before the stop flag is
/// read: raising it there stops the run at that very epoch, with its checkpoint.
#[test]
fn an_epoch_observer_sees_each_epoch_and_may_stop_the_run_there() {
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (flag, log) = (stop.clone(), heard.clone());
    let observer = EpochObserver(Arc::new(move |summary: &EpochSummary| {
        let names: Vec<&str> = summary.losses.iter().map(|(name, _)| *name).collect();
        log.lock()
            .unwrap()
            .push((summary.epoch, summary.epochs, names.join(",")));
        if summary.epoch == 2 {
            flag.store(true, Ordering::SeqCst);
        }
    }));
    let opts = TrainOptions {
        checkpoint_every: 0,
        stop: Some(stop),
        on_epoch: Some(observer),
        ..options(dir.path(), 5)
    };
    let err = train(&mut Walk::new(), &opts, manifest(), "").unwrap_err();
    assert!(
        matches!(
            &err,
            TrainError::Interrupted {
                epoch: 2,
                epochs: 5,
                ..
            }
        ),
        "{err}"
    );
    let heard = heard.lock().unwrap().clone();
    let names = heard[0].2.clone();
    assert!(!names.is_empty());
    assert_eq!(heard, vec![(1, 5, names.clone()), (2, 5, names)]);
    assert_eq!(
        resolve(dir.path()).unwrap(),
        dir.path().join("ckpt/epoch-0002")
    );
}
