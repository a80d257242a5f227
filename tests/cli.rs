//! End-to-end tests through the `synth-train` and `synth-sample` binaries on the smoke config.

use assert_cmd::Command;
use polars::prelude::*;
use predicates::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use synth_data::read_table;

const SMOKE: &str = "configs/smoke/ctgan.toml";
const SMOKE_TVAE: &str = "configs/smoke/tvae.toml";
const SMOKE_DCGAN: &str = "configs/smoke/dcgan.toml";
const SMOKE_CDCGAN: &str = "configs/smoke/cdcgan.toml";
const DATA: &str = "tests/fixtures/adult_2k.csv";

fn train(config: &str, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("synth-train")
        .unwrap()
        .args([
            "--config",
            config,
            "--out-dir",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .args(extra)
        .assert()
}

fn sample(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("synth-sample")
        .unwrap()
        .args(args)
        .assert()
}

/// A copy of config `base` in `dir`, named `name`, with `from` (which it must contain)
/// replaced by `to`.
fn edited_config(dir: &Path, name: &str, base: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(base).unwrap();
    assert!(text.contains(from), "{base} has no `{from}`");
    let path = dir.join(name);
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `synth-sample --checkpoint run -n rows -o out` plus `extra` arguments.
fn sample_from(run: &Path, rows: &str, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec![
        "--checkpoint",
        run.to_str().unwrap(),
        "-n",
        rows,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    sample(&args)
}

/// Samples `rows` rows from `run` into `out` and reads them beside the training table `data`,
/// checking the count and that columns, order and dtypes are the data's.
fn sample_like(
    run: &Path,
    data: &str,
    rows: usize,
    out: &Path,
    extra: &[&str],
) -> (DataFrame, DataFrame) {
    sample_from(run, &rows.to_string(), out, extra).success();
    let (real, synthetic) = (
        read_table(Path::new(data)).unwrap(),
        read_table(out).unwrap(),
    );
    assert_eq!(synthetic.height(), rows);
    assert_eq!(
        synthetic.schema(),
        real.schema(),
        "same columns, order and dtypes"
    );
    (real, synthetic)
}

fn frequencies(df: &DataFrame, column: &str) -> HashMap<String, f64> {
    let col = df.column(column).unwrap().cast(&DataType::String).unwrap();
    let mut m = HashMap::new();
    for v in col.str().unwrap().iter() {
        *m.entry(v.unwrap_or("").to_string()).or_insert(0.0) += 1.0 / df.height() as f64;
    }
    m
}

/// Samples 2,000 unconditional rows from `run` into `out` (checked as [`sample_like`] checks
/// them) and returns them beside the training table, with the total variation distance
/// between the two tables' frequencies of `column`.
fn marginal_gap(run: &Path, out: &Path, column: &str) -> (DataFrame, DataFrame, f64) {
    let (real, synthetic) = sample_like(run, DATA, 2000, out, &[]);
    let gap = tvd(
        &frequencies(&real, column),
        &frequencies(&synthetic, column),
    );
    (real, synthetic, gap)
}

fn tvd(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> f64 {
    let keys: std::collections::HashSet<&String> = a.keys().chain(b.keys()).collect();
    0.5 * keys
        .into_iter()
        .map(|k| (a.get(k).unwrap_or(&0.0) - b.get(k).unwrap_or(&0.0)).abs())
        .sum::<f64>()
}

#[test]
fn ctgan_trains_samples_and_resumes_end_to_end() {
    end_to_end(
        SMOKE,
        &[
            "generator.bpk",
            "critic.bpk",
            "generator.optim",
            "critic.optim",
        ],
    );
}

#[test]
fn tvae_trains_samples_and_resumes_end_to_end() {
    end_to_end(SMOKE_TVAE, &["encoder.bpk", "decoder.bpk", "tvae.optim"]);
}

/// Trains the smoke config, checks checkpoints and metrics, samples (CSV, Parquet, with a
/// condition) and resumes.
fn end_to_end(config: &str, model_files: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(config, &run, &[])
        .success()
        .stdout(predicates::str::contains("trained 20 epochs"));
    for name in ["epoch-0010", "epoch-0020", "latest"] {
        assert!(run.join("ckpt").join(name).exists(), "{name}");
    }
    let ckpt = run.join("ckpt/epoch-0020");
    for file in ["manifest.toml", "config.toml", "transformer.json"]
        .iter()
        .chain(model_files)
    {
        assert!(ckpt.join(file).is_file(), "{file}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 20);

    let csv = dir.path().join("out.csv");
    let (real, synthetic) = sample_like(&run, DATA, 1500, &csv, &["--seed", "1"]);
    // discrete marginals: closer to the data than a uniform draw over the categories
    for column in [
        "workclass",
        "marital-status",
        "relationship",
        "race",
        "sex",
        "income",
    ] {
        let data = frequencies(&real, column);
        let uniform: HashMap<String, f64> = data
            .keys()
            .map(|k| (k.clone(), 1.0 / data.len() as f64))
            .collect();
        let (model, baseline) = (
            tvd(&frequencies(&synthetic, column), &data),
            tvd(&uniform, &data),
        );
        assert!(
            model < baseline,
            "{column}: model TVD {model:.3} vs uniform {baseline:.3}"
        );
        let categories = frequencies(&synthetic, column);
        assert!(
            categories.keys().all(|k| data.contains_key(k)),
            "{column}: only known categories"
        );
    }

    // only CTGAN can draw unconditioned rows' conditions from the training distribution
    let training = sample_from(
        &run,
        "200",
        &dir.path().join("training.csv"),
        &["--condition-frequencies", "training"],
    );
    if config == SMOKE {
        training.success();
    } else {
        training
            .failure()
            .stderr(predicates::str::contains("--condition-frequencies"));
    }

    // an unknown table format is named, and nothing is written
    let xlsx = dir.path().join("out.xlsx");
    sample_from(&run, "5", &xlsx, &[])
        .failure()
        .stderr(predicates::str::contains("out.xlsx"));
    assert!(!xlsx.exists());

    // same seed, same rows; parquet output has the same content
    let again = dir.path().join("again.parquet");
    sample_from(&run, "1500", &again, &["--seed", "1"]).success();
    assert!(read_table(&again).unwrap().equals_missing(&synthetic));

    // conditional sampling: every row satisfies the condition, the match rate is reported
    let rich = dir.path().join("rich.csv");
    sample_from(&run, "300", &rich, &["--condition", "income=>50K"])
        .success()
        .stdout(predicates::str::contains("match rate"));
    let rich = read_table(&rich).unwrap();
    assert_eq!(rich.height(), 300);
    assert!(
        rich.column("income")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .all(|v| v == Some(">50K"))
    );

    // contradictory conditions and an impossible row count are refused before generating
    let none = dir.path().join("none.csv");
    sample_from(
        &run,
        "10",
        &none,
        &["--condition", "sex=Male", "--condition", "sex=Female"],
    )
    .failure()
    .stderr(predicates::str::contains("contradict"));
    sample_from(&run, &usize::MAX.to_string(), &none, &[])
        .failure()
        .stderr(predicates::str::contains("ask for fewer rows"));
    assert!(!none.exists());

    // resume continues from epoch 20 to 22
    train(config, &run, &["--resume", "--epochs", "22"])
        .success()
        .stdout(predicates::str::contains("trained 22 epochs"));
    assert_eq!(
        std::fs::read_to_string(run.join("ckpt/latest")).unwrap(),
        "epoch-0022"
    );
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        22
    );
    train(config, &run, &["--resume", "--epochs", "22"])
        .failure()
        .stderr(predicates::str::contains("already trained for 22 epochs"));

    // a resumed run cannot drift: another seed or model setting is refused, naming the keys
    train(config, &run, &["--resume", "--epochs", "24", "--seed", "9"])
        .failure()
        .stderr(predicates::str::contains("seed (3 -> 9)"));
    let smaller = edited_config(
        dir.path(),
        "smaller.toml",
        config,
        "embedding_dim = 32",
        "embedding_dim = 16",
    );
    train(&smaller, &run, &["--resume", "--epochs", "24"])
        .failure()
        .stderr(predicates::str::contains("model.embedding_dim (32 -> 16)"));
    assert_eq!(
        std::fs::read_to_string(run.join("ckpt/latest")).unwrap(),
        "epoch-0022",
        "nothing was trained"
    );

    // a shared checkpoint whose settings describe networks larger than its weights (here a
    // generator input of 10^12 noise columns, terabytes if built) is refused before building
    let ckpt = run.join("ckpt/epoch-0022");
    let settings = std::fs::read_to_string(ckpt.join("config.toml")).unwrap();
    std::fs::write(
        ckpt.join("config.toml"),
        settings.replace("embedding_dim = 32", "embedding_dim = 1000000000000"),
    )
    .unwrap();
    sample_from(&run, "10", &none, &[])
        .failure()
        .stderr(predicates::str::contains(
            "does not belong with these weights",
        ));
    std::fs::write(ckpt.join("config.toml"), settings).unwrap();
    // and an inconsistent transformer.json is named before anything is generated
    let transformer = std::fs::read_to_string(ckpt.join("transformer.json")).unwrap();
    std::fs::write(
        ckpt.join("transformer.json"),
        transformer.replacen("\"categories\": [", "\"categories\": [\"x\", \"x\",", 1),
    )
    .unwrap();
    sample_from(&run, "10", &none, &[])
        .failure()
        .stderr(predicates::str::contains(
            "transformer.json: the transformer is inconsistent: column `",
        ));
    assert!(!none.exists());
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let run_config = |config: &str| {
        Command::cargo_bin("synth-train")
            .unwrap()
            .args(["--config", config, "--quiet"])
            .assert()
            .failure()
    };
    run_config("no/such.toml").stderr(predicates::str::contains("no/such.toml"));
    let unknown = write(
        "unknown.toml",
        &std::fs::read_to_string(SMOKE)
            .unwrap()
            .replace("pac", "pak")
            .replace("[model]", "[model]\nembeding_dim = 3"),
    );
    run_config(&unknown).stderr(predicates::str::contains("embeding_dim"));
    let missing = write(
        "missing.toml",
        &std::fs::read_to_string(SMOKE)
            .unwrap()
            .replace(DATA, "nowhere.csv"),
    );
    run_config(&missing).stderr(predicates::str::contains("nowhere.csv"));
    let bad_csv = write("bad.csv", "a,b\n1,x\n2,y,3,4\n");
    let bad = write(
        "bad.toml",
        &std::fs::read_to_string(SMOKE)
            .unwrap()
            .replace(DATA, &bad_csv),
    );
    run_config(&bad).stderr(predicates::str::contains("bad.csv"));
    let override_typo = write(
        "typo.toml",
        &std::fs::read_to_string(SMOKE)
            .unwrap()
            .replace("[train]", "discrete = [\"sexx\"]\n[train]"),
    );
    run_config(&override_typo).stderr(predicates::str::contains("sexx"));

    sample(&[
        "--checkpoint",
        dir.path().to_str().unwrap(),
        "-n",
        "5",
        "-o",
        "x.csv",
    ])
    .failure()
    .stderr(predicates::str::contains("no checkpoint found"));
    sample(&[
        "--checkpoint",
        ".",
        "-n",
        "5",
        "-o",
        "x.csv",
        "--condition",
        "income",
    ])
    .failure()
    .stderr(predicates::str::contains("COLUMN=VALUE"));
}

/// Whether wgpu has an adapter; without one the wgpu tests are skipped, except under CI,
/// whose script installs Mesa's lavapipe.
fn wgpu_available() -> bool {
    if synth_tabular::wgpu_device().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no wgpu adapter under CI: .ci/run installs mesa-vulkan-drivers (lavapipe)"
    );
    eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers to run this test)");
    false
}

/// Trains `config` for `epochs` on wgpu, failing rather than falling back to the CPU.
fn train_on_wgpu(config: &str, run: &Path, epochs: &str) {
    train(
        config,
        run,
        &["--backend", "wgpu", "--strict-backend", "--epochs", epochs],
    )
    .success();
}

/// Trains each tabular smoke config on wgpu, then samples the checkpoint on both backends.
#[test]
fn wgpu_trained_checkpoints_sample_on_both_backends() {
    if !wgpu_available() {
        return;
    }
    let real = read_table(Path::new(DATA)).unwrap();
    for config in [SMOKE, SMOKE_TVAE] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        train_on_wgpu(config, &run, "2");
        let manifest = std::fs::read_to_string(run.join("ckpt/epoch-0002/manifest.toml")).unwrap();
        assert!(manifest.contains("backend = \"wgpu\""), "{manifest}");
        let mut outputs = Vec::new();
        for backend in ["ndarray", "wgpu"] {
            let out = dir.path().join(format!("{backend}.csv"));
            sample_from(&run, "500", &out, &["--seed", "1", "--backend", backend]).success();
            let table = read_table(&out).unwrap();
            assert_eq!(table.schema(), real.schema(), "{config} on {backend}");
            outputs.push(std::fs::read_to_string(&out).unwrap());
        }
        // same weights and host-drawn noise: the rows agree except where float rounding
        // flips a category or an integer
        let same = outputs[0]
            .lines()
            .zip(outputs[1].lines())
            .filter(|(a, b)| a == b)
            .count();
        assert!(same >= 490, "{config}: only {same} of 500 rows agree");
    }
}

/// The PNG files of a folder (sorted), decoded.
fn pngs(dir: &Path) -> Vec<(String, image::DynamicImage)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let image = image::open(dir.join(&n)).unwrap();
            (n, image)
        })
        .collect()
}

/// Side of a grid of 64 28-pixel images: 8 tiles and 9 paddings of 2 pixels.
const GRID_SIDE: u32 = 8 * 28 + 9 * 2;

#[test]
fn dcgan_trains_on_a_png_folder_samples_pngs_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(SMOKE_DCGAN, &run, &[])
        .success()
        .stdout(predicates::str::contains("trained 2 epochs"));
    let ckpt = run.join("ckpt/epoch-0002");
    for file in [
        "manifest.toml",
        "config.toml",
        "generator.bpk",
        "discriminator.bpk",
        "generator.optim",
        "discriminator.optim",
    ] {
        assert!(ckpt.join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(ckpt.join("manifest.toml")).unwrap();
    assert!(manifest.contains("kind = \"dcgan\""), "{manifest}");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    assert!(metrics.contains("generator_loss") && metrics.contains("discriminator_loss"));
    // a preview grid after every epoch
    let previews = pngs(&run.join("samples"));
    let names: Vec<&str> = previews.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["epoch-0001.png", "epoch-0002.png"]);
    assert!(
        previews
            .iter()
            .all(|(_, p)| (p.width(), p.height()) == (GRID_SIDE, GRID_SIDE))
    );

    // 70 images in batches of 32, numbered, 28 x 28 grayscale, plus the grid
    let out = dir.path().join("digits");
    sample_from(&run, "70", &out, &["--seed", "1", "--batch-size", "32"])
        .success()
        .stdout(predicates::str::contains("wrote 70 images"));
    let written = pngs(&out);
    assert_eq!(written.len(), 71);
    assert_eq!(written[0].0, "00000.png");
    assert_eq!(written[69].0, "00069.png");
    for (name, image) in &written[..70] {
        assert_eq!((image.width(), image.height()), (28, 28), "{name}");
        assert_eq!(image.color(), image::ColorType::L8, "{name}");
    }
    let (name, grid) = &written[70];
    assert_eq!(name, "grid.png");
    assert_eq!((grid.width(), grid.height()), (GRID_SIDE, GRID_SIDE));
    let distinct: std::collections::HashSet<Vec<u8>> = written[..70]
        .iter()
        .map(|(_, i)| i.to_luma8().into_raw())
        .collect();
    assert!(distinct.len() > 60, "the images differ from each other");

    // the same seed and batch size give the same files; another seed other images
    let again = dir.path().join("again");
    sample_from(&run, "70", &again, &["--seed", "1", "--batch-size", "32"]).success();
    for (name, _) in &written {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(again.join(name)).unwrap(),
            "{name}"
        );
    }
    // the same checkpoint on burn-flex: the same pixels to rounding
    let flex = dir.path().join("flex");
    sample_from(
        &run,
        "70",
        &flex,
        &["--seed", "1", "--batch-size", "32", "--backend", "flex"],
    )
    .success();
    assert_pixels_agree(&written, &pngs(&flex));
    // a new folder whose name has a dot is a folder, not a table format
    let other = dir.path().join("other.v2");
    sample_from(&run, "3", &other, &["--seed", "2"]).success();
    assert_ne!(
        std::fs::read(out.join("00000.png")).unwrap(),
        std::fs::read(other.join("00000.png")).unwrap()
    );

    // conditions (DCGAN has no classes), tabular-only options and a file as output are refused
    for (option, message) in [
        (["--condition", "a=b"], "one condition, class=NAME"),
        (["--condition", "class=1"], "not class-conditional"),
        (
            ["--condition-frequencies", "training"],
            "applies to tabular models",
        ),
    ] {
        sample_from(&run, "5", &dir.path().join("c"), &option)
            .failure()
            .stderr(predicates::str::contains(message));
    }
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    sample_from(&run, "5", &file, &[])
        .failure()
        .stderr(predicates::str::contains("name a folder"));

    train(SMOKE_DCGAN, &run, &["--resume", "--epochs", "3"])
        .success()
        .stdout(predicates::str::contains("trained 3 epochs"));
    assert_eq!(
        std::fs::read_to_string(run.join("ckpt/latest")).unwrap(),
        "epoch-0003"
    );
    assert!(run.join("samples/epoch-0003.png").is_file());
}

/// The class-conditional DCGAN learns the classes of a folder's subfolders, keeps them in
/// its checkpoint, and samples the class asked for; classes it does not know and images
/// without labels are refused with what to do.
#[test]
fn cdcgan_trains_on_class_folders_and_samples_the_class_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(SMOKE_CDCGAN, &run, &[]).success();
    let ckpt = run.join("ckpt/epoch-0002");
    let manifest = std::fs::read_to_string(ckpt.join("manifest.toml")).unwrap();
    assert!(manifest.contains("kind = \"cdcgan\""), "{manifest}");
    let classes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("classes.json")).unwrap()).unwrap();
    let names: Vec<&str> = classes["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    let counts: u64 = classes["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counts, 60, "the 60 fixture digits");

    let sevens = dir.path().join("sevens");
    sample_from(
        &run,
        "6",
        &sevens,
        &["--condition", "class=7", "--seed", "1"],
    )
    .success()
    .stdout(predicates::str::contains("wrote 6 images"));
    assert_eq!(pngs(&sevens).len(), 7, "6 images and the grid");
    // the same latents as another class give other images
    let threes = dir.path().join("threes");
    sample_from(
        &run,
        "6",
        &threes,
        &["--condition", "class=3", "--seed", "1"],
    )
    .success();
    assert_ne!(
        std::fs::read(sevens.join("00000.png")).unwrap(),
        std::fs::read(threes.join("00000.png")).unwrap()
    );
    sample_from(
        &run,
        "2",
        &dir.path().join("x"),
        &["--condition", "class=12"],
    )
    .failure()
    .stderr(predicates::str::contains("class=12").and(predicates::str::contains("0, 1, 2")));
    sample_from(
        &run,
        "2",
        &dir.path().join("y"),
        &["--condition", "digit=7"],
    )
    .failure()
    .stderr(predicates::str::contains("class=NAME"));

    // an IDX file without its label file has no classes to learn
    let unlabelled = edited_config(
        dir.path(),
        "unlabelled.toml",
        "configs/cdcgan.toml",
        "labels = \"assets/mnist-2k-labels-idx1-ubyte.gz\"",
        "",
    );
    train(&unlabelled, &dir.path().join("z"), &["--epochs", "1"])
        .failure()
        .stderr(predicates::str::contains("data.labels"));

    // the label file is part of the data a resumed run must find unchanged
    let labels = dir.path().join("labels.gz");
    std::fs::copy("assets/mnist-2k-labels-idx1-ubyte.gz", &labels).unwrap();
    let small = std::fs::read_to_string("configs/cdcgan.toml")
        .unwrap()
        .replace(
            "assets/mnist-2k-labels-idx1-ubyte.gz",
            labels.to_str().unwrap(),
        )
        .replace("latent_dim = 100", "latent_dim = 8")
        .replace("label_dim = 50", "label_dim = 4")
        .replace("feature_maps = 64", "feature_maps = 4");
    let config = dir.path().join("small.toml");
    std::fs::write(&config, small).unwrap();
    let config = config.to_str().unwrap();
    let idx = dir.path().join("idx");
    train(config, &idx, &["--epochs", "1"]).success();
    let mut gz = std::fs::read(&labels).unwrap();
    let last = gz.len() - 9;
    gz[last] ^= 1; // the gzip trailer's CRC: the file's bytes, not its labels, change
    std::fs::write(&labels, gz).unwrap();
    train(config, &idx, &["--resume", "--epochs", "2"])
        .failure()
        .stderr(predicates::str::contains("label file"));
}

#[test]
fn a_corrupt_image_is_named_and_skipped_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("digits");
    for entry in std::fs::read_dir("tests/fixtures/digits").unwrap() {
        let class = entry.unwrap().path();
        let target = images.join(class.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        for file in std::fs::read_dir(&class).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, target.join(file.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(images.join("3/broken.png"), b"\x89PNG not really").unwrap();
    let smoke = std::fs::read_to_string(SMOKE_DCGAN)
        .unwrap()
        .replace("tests/fixtures/digits", images.to_str().unwrap());
    let config = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let strict = config("strict.toml", &smoke);
    train(&strict, &dir.path().join("a"), &["--epochs", "1"])
        .failure()
        .stderr(predicates::str::contains("broken.png"));
    let lenient = config(
        "skip.toml",
        &smoke.replace("channels = 1", "channels = 1\non_corrupt = \"skip\""),
    );
    train(&lenient, &dir.path().join("b"), &["--epochs", "1"])
        .success()
        .stderr(predicates::str::contains("broken.png"));
}

/// DCGAN trained on wgpu samples on both backends with the same pixels (to rounding).
#[test]
fn wgpu_trained_dcgan_samples_on_both_backends() {
    if !wgpu_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_on_wgpu(SMOKE_DCGAN, &run, "1");
    let mut outputs = Vec::new();
    for backend in ["ndarray", "wgpu"] {
        let out = dir.path().join(backend);
        sample_from(&run, "16", &out, &["--seed", "1", "--backend", backend]).success();
        outputs.push(pngs(&out));
    }
    assert_eq!(outputs[0].len(), 17);
    assert_pixels_agree(&outputs[0], &outputs[1]);
}

/// Two folders of the same images from different backends agree to 2 grey levels.
fn assert_pixels_agree(a: &[(String, image::DynamicImage)], b: &[(String, image::DynamicImage)]) {
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(b) {
        let worst = x
            .to_luma8()
            .into_raw()
            .iter()
            .zip(y.to_luma8().into_raw())
            .map(|(p, q)| p.abs_diff(q))
            .max()
            .unwrap();
        assert!(worst <= 2, "{name}: pixels differ by up to {worst} levels");
    }
}

/// With every GPU driver hidden from wgpu (the Vulkan loader pointed at no driver file, the
/// GL vendor libraries at an empty folder), `--backend wgpu` falls back to the CPU with a
/// warning, or with `--strict-backend` stops with an error.
#[cfg(target_os = "linux")]
#[test]
fn wgpu_without_an_adapter_falls_back_or_fails_in_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let hidden_with = |backend: &str, run: &str, strict: bool| {
        let mut command = Command::cargo_bin("synth-train").unwrap();
        command
            .args(["--config", SMOKE_TVAE, "--quiet", "--epochs", "1"])
            .args(["--out-dir", dir.path().join(run).to_str().unwrap()])
            .args(["--backend", backend])
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env("__EGL_VENDOR_LIBRARY_DIRS", "/nonexistent")
            .env("RUST_BACKTRACE", "0");
        if strict {
            command.arg("--strict-backend");
        }
        command.assert()
    };
    let hidden = |run: &str, strict: bool| hidden_with("wgpu", run, strict);
    hidden("strict", true)
        .failure()
        .stderr(predicates::str::contains(
            "no GPU adapter found (strict mode)",
        ));
    assert!(!dir.path().join("strict").exists(), "nothing written");
    hidden("fallback", false)
        .success()
        .stderr(predicates::str::contains("falling back to the CPU"));
    let manifest =
        std::fs::read_to_string(dir.path().join("fallback/ckpt/epoch-0001/manifest.toml")).unwrap();
    assert!(manifest.contains("backend = \"ndarray\""), "{manifest}");
    // auto: without a GPU, the faster CPU backend, saying why; strict: an error
    hidden_with("auto", "auto", false)
        .success()
        .stderr(predicates::str::contains("auto: no GPU adapter found"));
    let manifest =
        std::fs::read_to_string(dir.path().join("auto/ckpt/epoch-0001/manifest.toml")).unwrap();
    assert!(manifest.contains("backend = \"flex\""), "{manifest}");
    hidden_with("auto", "auto-strict", true)
        .failure()
        .stderr(predicates::str::contains(
            "backend auto: no GPU adapter found",
        ));
}

#[test]
fn a_fresh_run_never_replaces_an_earlier_one_silently() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(SMOKE, &run, &["--epochs", "1"]).success();
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let latest = std::fs::read_to_string(run.join("ckpt/latest")).unwrap();

    let refused = train(SMOKE, &run, &["--epochs", "2"]).failure();
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    for needle in [
        run.to_str().unwrap(),
        "--resume",
        "--overwrite",
        "--out-dir",
    ] {
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl")).unwrap(),
        metrics
    );
    assert_eq!(
        std::fs::read_to_string(run.join("ckpt/latest")).unwrap(),
        latest
    );

    train(SMOKE, &run, &["--epochs", "2", "--overwrite"]).success();
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "only the new run's epochs");
    assert!(run.join("ckpt/epoch-0002").is_dir());
    assert!(
        !run.join("ckpt/epoch-0001").exists(),
        "the earlier run is gone"
    );
    train(SMOKE, &run, &["--resume", "--overwrite"])
        .failure()
        .stderr(predicates::str::contains("cannot be used with"));

    // a checkpoint whose manifest and config disagree on the model is refused
    let manifest = run.join("ckpt/epoch-0002/manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("kind = \"ctgan\"", "kind = \"tvae\""),
    )
    .unwrap();
    let out = dir.path().join("x.csv");
    sample_from(&run, "5", &out, &[])
        .failure()
        .stderr(predicates::str::contains(
            "manifest says tvae, config says ctgan",
        ));
    assert!(!out.exists());
}

/// Lines in a run's `metrics.jsonl` (0 while it does not exist).
fn metric_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map_or(0, |t| t.lines().count())
}

/// Starts `synth-train` on `config` into `run` for (practically) endless epochs and returns
/// the running process once two epochs are logged, so it can be stopped mid-run.
fn start_endless_run(config: &str, run: &Path, stderr: std::process::Stdio) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synth-train"))
        .args(["--config", config, "--out-dir", run.to_str().unwrap()])
        .args(["--quiet", "--epochs", "100000"])
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while metric_lines(run) < 2 {
        assert!(started.elapsed().as_secs() < 120, "no epoch finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn sigint_and_sigterm_finish_the_epoch_save_it_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    for signal in ["-INT", "-TERM"] {
        let run = dir.path().join(signal);
        let child = start_endless_run(SMOKE, &run, std::process::Stdio::piped());
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{signal}: exit status {:?}",
            out.status
        );
        assert!(
            stderr.contains("interrupted: stopped after epoch") && stderr.contains("--resume"),
            "{stderr}"
        );
        // The epoch in progress was finished, logged and saved; latest names it.
        let epochs = metric_lines(&run);
        let latest = std::fs::read_to_string(run.join("ckpt/latest")).unwrap();
        assert_eq!(latest, format!("epoch-{epochs:04}"), "{stderr}");
        assert!(
            run.join("ckpt")
                .join(&latest)
                .join("generator.bpk")
                .is_file()
        );
        train(
            SMOKE,
            &run,
            &["--resume", "--epochs", &(epochs + 1).to_string()],
        )
        .success()
        .stdout(predicates::str::contains(format!(
            "trained {} epochs",
            epochs + 1
        )));
    }
}

/// SIGKILL gives the process no chance to clean up: a run killed mid-epoch, with the
/// temporaries a kill during a checkpoint write leaves (a half-written checkpoint folder and
/// `latest` pointer under the dead writer's pid), resumes to exactly the weights of an
/// uninterrupted run: the sampled rows are byte-identical.
#[test]
fn sigkill_mid_epoch_and_mid_write_resumes_to_identical_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = &edited_config(
        dir.path(),
        "every-epoch.toml",
        SMOKE,
        "checkpoint_every = 10",
        "checkpoint_every = 1",
    );

    let killed = dir.path().join("killed");
    let mut child = start_endless_run(config, &killed, std::process::Stdio::null());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let pid = child.id();
    let ckpt = killed.join("ckpt");
    let saved: usize = std::fs::read_to_string(ckpt.join("latest")).unwrap()[6..]
        .parse()
        .unwrap();
    // what a kill during the next checkpoint write leaves behind
    let half = ckpt.join(format!(".epoch-{:04}.tmp-{pid}", saved + 1));
    std::fs::create_dir_all(&half).unwrap();
    let weights = std::fs::read(ckpt.join(format!("epoch-{saved:04}/generator.bpk"))).unwrap();
    std::fs::write(half.join("generator.bpk"), &weights[..weights.len() / 2]).unwrap();
    std::fs::write(ckpt.join(format!(".latest.tmp-{pid}")), "epoch-00").unwrap();

    let epochs = (saved + 2).to_string();
    train(config, &killed, &["--resume", "--epochs", &epochs]).success();
    assert!(!half.exists(), "the half-written folder was cleaned up");
    assert!(!ckpt.join(format!(".latest.tmp-{pid}")).exists());
    let reference = dir.path().join("reference");
    train(config, &reference, &["--epochs", &epochs]).success();

    let rows = |run: &Path, name: &str| {
        let out = dir.path().join(name);
        sample_from(run, "300", &out, &["--seed", "5"]).success();
        std::fs::read(out).unwrap()
    };
    assert_eq!(
        rows(&killed, "resumed.csv"),
        rows(&reference, "uninterrupted.csv"),
        "killed after epoch {saved}, resumed to {epochs}"
    );
}

/// A checkpoint write that fails part-way (here the file-size limit `ulimit -f` makes every
/// write past 16 KiB fail, as a full disk would fail it) stops training with an error naming
/// the checkpoint, keeps the previous checkpoint as `latest`, and leaves no temporary folder.
#[test]
fn a_failing_checkpoint_write_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(SMOKE, &run, &["--epochs", "10"]).success();
    let bin = assert_cmd::cargo::cargo_bin("synth-train");
    // an ignored SIGXFSZ stays ignored across exec, so the write fails with EFBIG instead of
    // killing the process
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\"",
            bin.to_str().unwrap(),
            "--config",
            SMOKE,
            "--out-dir",
            run.to_str().unwrap(),
            "--quiet",
            "--resume",
            "--epochs",
            "20",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("epoch-0020")
            && stderr.contains("File too large")
            && stderr.contains("ckpt/latest still names the previous checkpoint"),
        "{stderr}"
    );
    let ckpt = run.join("ckpt");
    assert_eq!(
        std::fs::read_to_string(ckpt.join("latest")).unwrap(),
        "epoch-0010"
    );
    let entries: Vec<String> = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 2, "only epoch-0010 and latest: {entries:?}");
    // the kept checkpoint still samples
    sample_from(&run, "20", &dir.path().join("rows.csv"), &[]).success();
}

/// Paths that are not UTF-8 (legal on Linux): reading a checkpoint from such a folder,
/// sampling and evaluating into it work; a run folder there is refused by name, since every
/// checkpoint stores its run config as TOML, which holds only UTF-8.
#[cfg(unix)]
#[test]
fn non_utf8_paths_work_or_are_named() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"odd\xff"));
    std::fs::create_dir(&odd).unwrap();
    Command::cargo_bin("synth-train")
        .unwrap()
        .args(["--config", SMOKE, "--quiet", "--out-dir"])
        .arg(odd.join("run"))
        .assert()
        .failure()
        .stderr(
            predicates::str::contains("train.out_dir")
                .and(predicates::str::contains("is not valid UTF-8")),
        );
    assert!(!odd.join("run").exists());

    let run = dir.path().join("run");
    train(SMOKE, &run, &["--epochs", "1"]).success();
    std::fs::rename(&run, odd.join("run")).unwrap();
    let rows = odd.join("rows.csv");
    Command::cargo_bin("synth-sample")
        .unwrap()
        .args(["-n", "50", "--checkpoint"])
        .arg(odd.join("run"))
        .arg("-o")
        .arg(&rows)
        .assert()
        .success();
    assert_eq!(read_table(&rows).unwrap().height(), 50);
    Command::cargo_bin("synth-eval")
        .unwrap()
        .args(["--quiet", "--real", DATA, "--synthetic"])
        .arg(&rows)
        .arg("-o")
        .arg(odd.join("report"))
        .assert()
        .success();
    assert!(odd.join("report/report.json").is_file());
}

/// Integer columns whose values are all different: ids issued seven apart are a key that
/// keeps its stride; unique readings spread thinly under another name stay numbers, flagged
/// by name in the log instead of silently becoming one.
#[test]
fn unique_integer_columns_are_keys_or_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(DATA).unwrap();
    let with_id: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| match i {
            0 => format!("row_id,reading,{line}\n"),
            _ => format!("{},{},{line}\n", 1000 + 7 * i, 1000 + 7 * i + (i * i) % 5),
        })
        .collect();
    let data = dir.path().join("with-id.csv");
    std::fs::write(&data, with_id).unwrap();
    let config = edited_config(dir.path(), "id.toml", SMOKE, DATA, data.to_str().unwrap());
    let run = dir.path().join("run");
    train(&config, &run, &["--epochs", "1"]).success().stderr(
        predicates::str::contains("regenerated as 1007, 1014, ...")
            .and(predicates::str::contains("like an identifier's"))
            .and(predicates::str::contains("column=reading"))
            .and(predicates::str::contains("data.keys")),
    );
    let out = dir.path().join("out.csv");
    sample_from(&run, "300", &out, &[]).success();
    let ids = read_table(&out).unwrap()["row_id"]
        .cast(&DataType::Int64)
        .unwrap();
    let ids: Vec<i64> = ids.i64().unwrap().iter().flatten().collect();
    assert_eq!(ids.len(), 300);
    assert!(ids.windows(2).all(|w| w[1] - w[0] == 7), "stride kept");
}

const TRANSACTIONS: &str = "tests/fixtures/transactions.csv";

/// The non-missing values of a text column.
fn texts(df: &DataFrame, column: &str) -> Vec<String> {
    let column = df.column(column).unwrap();
    column
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

fn null_share(df: &DataFrame, column: &str) -> f64 {
    df.column(column).unwrap().null_count() as f64 / df.height() as f64
}

/// Model values (days or seconds) of text dates in `format`; every value must parse.
fn parsed(values: &[String], format: &str, dtype: synth_core::DType) -> Vec<f64> {
    values
        .iter()
        .map(|v| {
            synth_data::temporal::parse_text(v, format, dtype)
                .unwrap_or_else(|| panic!("`{v}` is not in the format {format}"))
        })
        .collect()
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// A transactions table with a text key, timestamps, dates and times of day as text,
/// two-decimal amounts and missing values nearly everywhere, through both binaries: the run
/// folder's metadata.toml describes each column; the sample has the table's columns, order
/// and types, unique keys of the same shape, dates and times in their format within the data's
/// range, amounts with two decimals (written with both) inside their range, and missing values where the data has
/// them. An edited metadata.toml then retrains with a new key prefix and narrower bounds.
#[test]
fn a_transactions_table_comes_back_in_its_own_types_and_formats() {
    use synth_core::DType;
    let dir = tempfile::tempdir().unwrap();
    let config = edited_config(dir.path(), "tx.toml", SMOKE, DATA, TRANSACTIONS);
    let run = dir.path().join("run");
    train(&config, &run, &["--epochs", "30"]).success();
    let metadata = std::fs::read_to_string(run.join("metadata.toml")).unwrap();
    for entry in [
        "name = \"tx_id\"\nkind = \"key\"",
        "name = \"ts\"\nkind = \"continuous\"\ndtype = \"datetime[us]\"\nformat = \"%Y-%m-%d %H:%M:%S%.f\"",
        "name = \"date\"\nkind = \"continuous\"\ndtype = \"date\"\nformat = \"%Y-%m-%d\"",
        "name = \"local_time\"\nkind = \"continuous\"\ndtype = \"time\"\nformat = \"%H:%M\"",
        "name = \"amount\"\nkind = \"continuous\"\ndtype = \"f64\"\ndecimals = 2",
        "name = \"channel\"\nkind = \"discrete\"",
    ] {
        assert!(
            metadata.contains(entry),
            "metadata.toml lacks {entry:?}:\n{metadata}"
        );
    }

    let out = dir.path().join("tx.csv");
    let (real, synthetic) = sample_like(&run, TRANSACTIONS, 2000, &out, &["--seed", "4"]);

    let ids = texts(&synthetic, "tx_id");
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(
        (ids.len(), unique.len()),
        (2000, 2000),
        "keys unique, none missing"
    );
    assert!(
        ids.iter().all(|id| id.len() == 9 && id.starts_with("TX")),
        "{:?}",
        &ids[..5]
    );
    for (column, format, dtype) in [
        ("ts", "%Y-%m-%d %H:%M:%S", DType::DatetimeUs),
        ("date", "%Y-%m-%d", DType::Date),
        ("local_time", "%H:%M", DType::Time),
    ] {
        let (data, sampled) = (texts(&real, column), texts(&synthetic, column));
        assert!(
            sampled.iter().all(|v| v.len() == data[0].len()),
            "{column}: {:?}",
            &sampled[..5]
        );
        let (low, high) = min_max(&parsed(&data, format, dtype));
        let (a, b) = min_max(&parsed(&sampled, format, dtype));
        assert!(
            low <= a && b <= high,
            "{column}: [{a}, {b}] outside [{low}, {high}]"
        );
        assert!(
            b - a > 0.5 * (high - low),
            "{column}: spread [{a}, {b}] of [{low}, {high}]"
        );
    }
    let amounts: Vec<f64> = synth_data::numeric_values(synthetic.column("amount").unwrap())
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let (low, high) = min_max(
        &synth_data::numeric_values(real.column("amount").unwrap())
            .unwrap()
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    );
    assert!(amounts.iter().all(|&x| (low..=high).contains(&x)));
    assert!(
        amounts
            .iter()
            .all(|x| ((x * 100.0).round() - x * 100.0).abs() < 1e-6),
        "two decimals"
    );
    // and written with both places, as in the data (`12.30`, not `12.3`)
    let text = std::fs::read_to_string(&out).unwrap();
    for line in text.lines().skip(1) {
        let amount = line.split(',').nth(5).unwrap();
        let places = amount.split('.').nth(1).map_or(0, str::len);
        assert!(
            amount.is_empty() || places == 2,
            "amount `{amount}` in {line}"
        );
    }
    // every column with missing values in the data has them in the sample, at a similar share
    for column in [
        "ts",
        "date",
        "local_time",
        "amount",
        "age",
        "channel",
        "country",
    ] {
        let (data, sampled) = (null_share(&real, column), null_share(&synthetic, column));
        assert!(data > 0.0, "{column}: the fixture has missing values");
        assert!(
            sampled > 0.0 && (sampled - data).abs() < 0.05,
            "{column}: {sampled:.3} missing in the sample, {data:.3} in the data"
        );
    }

    // an edited metadata.toml: another key prefix, amounts narrowed
    let edited = metadata
        .replace("prefix = \"TX\"", "prefix = \"SYN\"")
        .replace(&format!("max = {high}"), "max = 100.0");
    assert_ne!(edited, metadata, "the edits apply");
    let edited_path = dir.path().join("edited.toml");
    std::fs::write(&edited_path, &edited).unwrap();
    let config = edited_config(
        dir.path(),
        "from-metadata.toml",
        &config,
        "[train]",
        &format!("metadata = \"{}\"\n[train]", edited_path.display()),
    );
    let second = dir.path().join("second");
    train(&config, &second, &["--epochs", "1"]).success();
    let out = dir.path().join("second.csv");
    sample_from(&second, "300", &out, &[]).success();
    let synthetic = read_table(&out).unwrap();
    assert!(
        texts(&synthetic, "tx_id")
            .iter()
            .all(|id| id.starts_with("SYN"))
    );
    let amounts = synth_data::numeric_values(synthetic.column("amount").unwrap()).unwrap();
    assert!(
        amounts
            .iter()
            .flatten()
            .all(|&x| (low..=100.0).contains(&x))
    );
}

/// Bad real-world columns stop training with the column and row named, nothing written: an
/// unparseable date, dates in two formats, a listed key with a repeated value, a metadata
/// file that contradicts the data.
#[test]
fn bad_dates_keys_and_metadata_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(TRANSACTIONS).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen(",2024-", ",03/02/2024 ", 1);
    let cases = [
        (lines.join("\n"), "", "`ts`"),
        (
            text.replacen("TX1000005", "TX1000004", 1),
            "keys = [\"tx_id\"]\n",
            "rows 4 and 5",
        ),
        (
            text.clone(),
            "formats = { date = \"%d.%m.%Y\" }\n",
            "`date`: row 0",
        ),
        (
            text.clone(),
            "metadata = \"nowhere.toml\"\n",
            "nowhere.toml",
        ),
    ];
    for (i, (data, extra, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("tx{i}.csv"));
        std::fs::write(&path, data).unwrap();
        let config = edited_config(
            dir.path(),
            &format!("c{i}.toml"),
            SMOKE,
            DATA,
            path.to_str().unwrap(),
        );
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace("[train]", &format!("{extra}[train]"));
        std::fs::write(&config, text).unwrap();
        let run = dir.path().join(format!("run{i}"));
        train(&config, &run, &["--epochs", "1"])
            .failure()
            .stderr(predicates::str::contains(*expected));
        assert!(!run.join("ckpt").exists(), "case {i}: nothing trained");
    }
}

/// Native dates and zoned millisecond timestamps (Parquet) come back through both binaries in
/// their own types, unit and time zone, within the data's range, with missing values.
#[test]
fn native_dates_and_zoned_timestamps_round_trip_through_parquet() {
    use synth_core::{ColumnKind, ColumnMeta, DType};
    use synth_data::temporal::{parse_text, temporal_column, temporal_values};
    let dir = tempfile::tempdir().unwrap();
    let mut df = read_table(Path::new(TRANSACTIONS)).unwrap();
    let native = [
        (
            "ts",
            "%Y-%m-%d %H:%M:%S",
            DType::DatetimeMs,
            Some("Europe/Paris"),
        ),
        ("date", "%Y-%m-%d", DType::Date, None),
    ];
    let mut metas = Vec::new();
    for (name, format, dtype, zone) in native {
        let values: Vec<Option<f64>> = texts_or_missing(&df, name)
            .iter()
            .map(|v| v.as_deref().map(|v| parse_text(v, format, dtype).unwrap()))
            .collect();
        let meta = ColumnMeta {
            time_zone: zone.map(str::to_string),
            ..ColumnMeta::new(name, ColumnKind::Continuous, dtype)
        };
        df.with_column(Column::from(temporal_column(&meta, &values).unwrap()))
            .unwrap();
        metas.push(meta);
    }
    let data = dir.path().join("tx.parquet");
    synth_data::write_table(&mut df, &data).unwrap();
    let config = edited_config(dir.path(), "tx.toml", SMOKE, DATA, data.to_str().unwrap());
    let run = dir.path().join("run");
    train(&config, &run, &["--epochs", "5"]).success();
    let out = dir.path().join("out.parquet");
    sample_from(&run, "1000", &out, &[]).success();
    let synthetic = read_table(&out).unwrap();
    assert_eq!(synthetic.schema(), df.schema(), "types, units and zones");
    // to CSV, zoned timestamps are written as ISO-8601 text in their zone's offset (Paris:
    // +01:00 in winter, +02:00 in summer), which synth reads back as the same instants
    let csv = dir.path().join("out.csv");
    sample_from(&run, "200", &csv, &[]).success();
    let written = texts(&read_table(&csv).unwrap(), "ts");
    let offsets: std::collections::BTreeSet<String> = written
        .iter()
        .map(|t| synth_data::temporal::offset_of(t, "%Y-%m-%dT%H:%M:%S%.f%:z").unwrap())
        .collect();
    assert!(
        offsets.iter().all(|o| o == "+01:00" || o == "+02:00") && offsets.len() == 2,
        "{offsets:?}"
    );
    let stamps = parsed(&written, "%Y-%m-%dT%H:%M:%S%.f%:z", DType::DatetimeMs);
    let (low, high) = min_max(&parsed(
        &texts(&read_table(Path::new(TRANSACTIONS)).unwrap(), "ts"),
        "%Y-%m-%d %H:%M:%S",
        DType::DatetimeMs,
    ));
    let (a, b) = min_max(&stamps);
    assert!(
        !stamps.is_empty() && low <= a && b <= high,
        "[{a}, {b}] outside [{low}, {high}]"
    );
    for meta in &metas {
        let values = |frame: &DataFrame| -> Vec<f64> {
            let column = frame.column(&meta.name).unwrap();
            let read = temporal_values(column, meta, synth_data::OnUnparseable::Fail).unwrap();
            read.into_iter().flatten().collect()
        };
        let ((low, high), (a, b)) = (min_max(&values(&df)), min_max(&values(&synthetic)));
        assert!(
            low <= a && b <= high,
            "{}: [{a}, {b}] outside [{low}, {high}]",
            meta.name
        );
        assert!(null_share(&synthetic, &meta.name) > 0.0, "{}", meta.name);
    }
}

/// A text column's values, missing ones as `None`.
fn texts_or_missing(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    let column = df.column(column).unwrap();
    column
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// MST trains under its budget, records the guarantee where a reader looks for it (manifest,
/// metrics, the ledger) and not the data's hash, writes no private statistic into the run's
/// metadata, and samples rows like the data's, conditioned exactly.
#[test]
fn mst_trains_privately_and_samples_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train("configs/smoke/mst.toml", &run, &[])
        .success()
        .stdout(predicates::str::contains("epsilon_spent"));
    let ckpt = run.join("ckpt/epoch-0001");
    let manifest = std::fs::read_to_string(ckpt.join("manifest.toml")).unwrap();
    assert!(
        manifest.contains("[privacy]") && manifest.contains("epsilon = 10.0"),
        "{manifest}"
    );
    assert!(manifest.contains("withheld"), "{manifest}");
    let ledger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("privacy.json")).unwrap()).unwrap();
    assert_eq!(ledger["spends"].as_array().unwrap().len(), 4, "{ledger}");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    let spent = line["epsilon_spent"].as_f64().unwrap();
    assert!(spent <= 10.0 + 1e-9 && spent > 9.99, "{line}");
    let metadata = std::fs::read_to_string(run.join("metadata.toml")).unwrap();
    assert!(
        !metadata.contains("min =") && !metadata.contains("max ="),
        "{metadata}"
    );
    let out = dir.path().join("rows.csv");
    let (_, synthetic, gap) = marginal_gap(&run, &out, "relationship");
    assert!(gap < 0.08, "relationship frequencies differ by {gap}");
    assert_eq!(synthetic.height(), 2000);
    let rich = dir.path().join("rich.csv");
    sample_from(&run, "200", &rich, &["--condition", "income=>50K"])
        .success()
        .stdout(predicates::str::contains("match rate: 100.0%"));
    let classes = frequencies(&read_table(&rich).unwrap(), "income");
    assert_eq!(classes.keys().collect::<Vec<_>>(), [">50K"], "{classes:?}");
}

/// TVAE with DP-SGD: the noise is calibrated to spend the budget over the run's steps, the
/// record and the guarantee are written, the transformer keeps no statistic, a domain that is
/// not public is refused, and the rows come back in the data's columns and range.
#[test]
fn tvae_trains_with_dp_sgd_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let private = "learning_rate = 2e-3\n\n[privacy]\nepsilon = 10.0\npublic = [\"*\"]\nreproducible_noise = true\n";
    let config = edited_config(
        dir.path(),
        "dp.toml",
        "configs/smoke/tvae.toml",
        "learning_rate = 2e-3",
        private,
    );
    let run = dir.path().join("run");
    train(&config, &run, &[])
        .success()
        .stdout(predicates::str::contains("epsilon_spent"));
    let ckpt = run.join("ckpt/epoch-0020");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("privacy.json")).unwrap()).unwrap();
    assert_eq!(record["steps"], 800, "{record}");
    let spent = record["epsilon_spent"].as_f64().unwrap();
    assert!(spent <= 10.0 && spent > 9.5, "{record}");
    assert!(
        record["noise_multiplier"].as_f64().unwrap() > 0.5,
        "{record}"
    );
    let manifest = std::fs::read_to_string(ckpt.join("manifest.toml")).unwrap();
    assert!(
        manifest.contains("[privacy]") && manifest.contains("withheld"),
        "{manifest}"
    );
    let transformer = std::fs::read_to_string(ckpt.join("transformer.json")).unwrap();
    let transformer: serde_json::Value = serde_json::from_str(&transformer).unwrap();
    for column in transformer["columns"].as_array().unwrap() {
        let encoding = &column["encoding"];
        for key in ["counts", "presence_counts"] {
            if let Some(counts) = encoding[key].as_array() {
                assert!(counts.iter().all(|c| c == 0), "{column}");
            }
        }
        if let Some(means) = encoding["mixture"]["means"].as_array() {
            assert_eq!(
                means.len(),
                1,
                "one mode spanning the public bounds: {column}"
            );
        }
    }
    let out = dir.path().join("rows.csv");
    let (real, synthetic, _) = marginal_gap(&run, &out, "sex");
    assert_eq!(synthetic.get_column_names(), real.get_column_names());
    let ages = |df: &DataFrame| df.column("age").unwrap().i64().unwrap().mean().unwrap();
    assert!(
        (ages(&real) - ages(&synthetic)).abs() < 6.0,
        "{}",
        ages(&synthetic)
    );
    // under [privacy], each category is drawn from the decoder's softmax (argmax would give
    // a decoder this noisy one income class)
    let incomes = frequencies(&synthetic, "income");
    assert!(
        incomes.len() == 2 && incomes.values().all(|&share| share > 0.05),
        "{incomes:?}"
    );
    // a domain that is not declared public is refused, naming the key
    let config = edited_config(
        dir.path(),
        "dp2.toml",
        "configs/smoke/tvae.toml",
        "learning_rate = 2e-3",
        "learning_rate = 2e-3\n\n[privacy]\nepsilon = 1.0\n",
    );
    train(&config, &dir.path().join("run2"), &[])
        .failure()
        .stderr(predicates::str::contains("privacy.public"));
    // a budget no noise can meet is refused before anything is written
    let config = edited_config(
        dir.path(),
        "dp3.toml",
        "configs/smoke/tvae.toml",
        "learning_rate = 2e-3",
        "learning_rate = 2e-3\n\n[privacy]\nepsilon = 1e-6\npublic = [\"*\"]\n",
    );
    let run3 = dir.path().join("run3");
    train(&config, &run3, &[])
        .failure()
        .stderr(predicates::str::contains("privacy.epsilon"));
    assert!(!run3.join("metadata.toml").exists() && !run3.join("ckpt").exists());
}

#[test]
fn gaussiancopula_fits_samples_and_conditions_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train("configs/smoke/gaussiancopula.toml", &run, &[])
        .success()
        .stdout(predicates::str::contains("log_likelihood"));
    let ckpt = run.join("ckpt/epoch-0001");
    for file in [
        "manifest.toml",
        "config.toml",
        "transformer.json",
        "copula.json",
    ] {
        assert!(ckpt.join(file).is_file(), "{file}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert!(
        line["log_likelihood"].as_f64().unwrap().is_finite(),
        "{line}"
    );
    assert!(line["fit_seconds"].as_f64().unwrap() > 0.0, "{line}");
    // unconditional rows have the data's columns and types, and its marginals
    let out = dir.path().join("rows.csv");
    let (real, synthetic, gap) = marginal_gap(&run, &out, "relationship");
    assert!(gap < 0.05, "relationship frequencies differ by {gap}");
    let ages = |df: &DataFrame| df.column("age").unwrap().i64().unwrap().mean().unwrap();
    assert!((ages(&real) - ages(&synthetic)).abs() < 1.5);
    // a category is drawn exactly (first pass 100%), a value is kept as given
    let rich = dir.path().join("rich.csv");
    sample_from(&run, "300", &rich, &["--condition", "income=>50K"])
        .success()
        .stdout(predicates::str::contains("match rate: 100.0%"));
    let rich = read_table(&rich).unwrap();
    let classes = frequencies(&rich, "income");
    assert_eq!(classes.keys().collect::<Vec<_>>(), [">50K"], "{classes:?}");
    // the rich are older in the data; the copula's conditional follows
    assert!(ages(&rich) > ages(&synthetic) + 2.0, "{}", ages(&rich));
    let forty_path = dir.path().join("forty.csv");
    sample_from(&run, "100", &forty_path, &["--condition", "age=40"]).success();
    let forty = read_table(&forty_path).unwrap();
    assert!(
        forty
            .column("age")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .all(|a| a == 40)
    );
    sample_from(&run, "10", &forty_path, &["--condition", "age=200"])
        .failure()
        .stderr(predicates::str::contains("column `age` has no value `200`"));
    // a damaged copula file is named
    std::fs::write(ckpt.join("copula.json"), "{\"columns\": [").unwrap();
    sample_from(&ckpt, "10", &out, &[])
        .failure()
        .stderr(predicates::str::contains("copula.json"));
}

#[test]
fn argn_trains_stops_early_samples_conditions_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train("configs/smoke/argn.toml", &run, &[])
        .success()
        .stdout(predicates::str::contains("trained 10 epochs"));
    let ckpt = run.join("ckpt/epoch-0010");
    for file in [
        "transformer.json",
        "tokens.json",
        "argn.bpk",
        "argn-last.bpk",
        "argn.optim",
        "argn-state.json",
    ] {
        assert!(ckpt.join(file).is_file(), "{file}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let validation: Vec<f64> = lines
        .iter()
        .map(|l| l["validation_loss"].as_f64().unwrap())
        .collect();
    assert!(validation[9] < validation[0], "{validation:?}");
    assert!(lines[0]["learning_rate"].as_f64().unwrap() > 0.0);

    // unconditional rows follow the data
    let out = dir.path().join("rows.csv");
    let (real, synthetic, gap) = marginal_gap(&run, &out, "relationship");
    assert!(gap < 0.06, "relationship frequencies differ by {gap}");
    // a category of the last column and a number are drawn first, exactly
    let rich = dir.path().join("rich.csv");
    sample_from(
        &run,
        "300",
        &rich,
        &["--condition", "income=>50K", "--condition", "age=40"],
    )
    .success()
    .stdout(predicates::str::contains("match rate: 100.0%"));
    let rich = read_table(&rich).unwrap();
    assert_eq!(
        frequencies(&rich, "income").keys().collect::<Vec<_>>(),
        [">50K"]
    );
    let ages = rich.column("age").unwrap().i64().unwrap();
    assert!(ages.into_no_null_iter().all(|a| a == 40));
    let married = |df: &DataFrame| frequencies(df, "marital-status")["Married-civ-spouse"];
    assert!(
        married(&rich) > married(&synthetic) + 0.25,
        "the rich are mostly married in the data: {} vs {}",
        married(&rich),
        married(&synthetic)
    );
    sample_from(&run, "10", &out, &["--condition", "age=500"])
        .failure()
        .stderr(predicates::str::contains("column `age` has no value `500`"));
    let thirties = dir.path().join("thirties.csv");
    sample_from(&run, "200", &thirties, &["--condition", "age=30..39"])
        .success()
        .stdout(predicates::str::contains("match rate: 100.0%"));
    let thirties = read_table(&thirties).unwrap();
    let ages = thirties.column("age").unwrap().i64().unwrap();
    assert!(ages.into_no_null_iter().all(|a| (30..=39).contains(&a)));

    // --rebalance draws income at the share asked for
    let balanced = dir.path().join("balanced.csv");
    sample_from(&run, "1000", &balanced, &["--rebalance", "income=>50K:0.5"]).success();
    let rich_share = frequencies(&read_table(&balanced).unwrap(), "income")[">50K"];
    assert!((rich_share - 0.5).abs() < 0.05, "{rich_share}");
    sample_from(&run, "10", &balanced, &["--rebalance", "income=>50K:2"])
        .failure()
        .stderr(predicates::str::contains("SHARE between 0 and 1"));

    // --impute fills the gaps of a table and leaves its other cells as they were
    let gappy = dir.path().join("gappy.csv");
    let text = std::fs::read_to_string(DATA).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (i, line) in lines.iter_mut().enumerate().skip(1).step_by(4) {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[0] = ""; // age
        if i % 8 == 1 {
            cells[5] = ""; // marital-status
        }
        *line = cells.join(",");
    }
    std::fs::write(&gappy, lines.join("\n") + "\n").unwrap();
    let filled_path = dir.path().join("filled.csv");
    sample(&[
        "--checkpoint",
        run.to_str().unwrap(),
        "--impute",
        gappy.to_str().unwrap(),
        "-o",
        filled_path.to_str().unwrap(),
    ])
    .success()
    .stdout(predicates::str::contains("filled 750 missing cells"));
    let filled = read_table(&filled_path).unwrap();
    assert_eq!(filled.schema(), real.schema());
    assert_eq!(filled.column("age").unwrap().null_count(), 0);
    assert_eq!(filled.column("marital-status").unwrap().null_count(), 0);
    let kept = filled.drop_many(["age", "marital-status"]);
    assert!(kept.equals_missing(&real.drop_many(["age", "marital-status"])));
    sample(&[
        "--checkpoint",
        run.to_str().unwrap(),
        "--impute",
        gappy.to_str().unwrap(),
        "-o",
        filled_path.to_str().unwrap(),
        "--condition",
        "sex=Male",
    ])
    .failure();

    // resuming continues the run; a run that stopped early stays stopped
    train(
        "configs/smoke/argn.toml",
        &run,
        &["--epochs", "11", "--resume"],
    )
    .success()
    .stdout(predicates::str::contains("trained 11 epochs"));
    let patient = edited_config(
        dir.path(),
        "stops.toml",
        "configs/smoke/argn.toml",
        "epochs = 10",
        "epochs = 200",
    );
    let patient = edited_config(
        dir.path(),
        "stops2.toml",
        &patient,
        "kind = \"argn\"",
        "kind = \"argn\"\npatience = 1\nplateau_epochs = 1",
    );
    let stopping = dir.path().join("stopping");
    train(&patient, &stopping, &[])
        .success()
        .stdout(predicates::str::contains("trained 200 epochs").not());
    let stopped = std::fs::read_to_string(stopping.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(stopped < 200, "{stopped}");
    train(&patient, &stopping, &["--resume"])
        .success()
        .stdout(predicates::str::contains("stopped early"));
    let after = std::fs::read_to_string(stopping.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(after, stopped, "a converged run trains no further epoch");

    // a damaged token file is named
    std::fs::write(ckpt.join("tokens.json"), "{\"columns\": [").unwrap();
    sample_from(&ckpt, "10", &out, &[])
        .failure()
        .stderr(predicates::str::contains("tokens.json"));
}

#[test]
fn mixture_fits_by_em_samples_exact_conditions_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train("configs/smoke/mixture.toml", &run, &[])
        .success()
        .stdout(predicates::str::contains("trained 8 epochs"));
    let ckpt = run.join("ckpt/epoch-0008");
    for file in ["transformer.json", "mixture.json", "mixture-state.json"] {
        assert!(ckpt.join(file).is_file(), "{file}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let curve =
        |key: &str| -> Vec<f64> { lines.iter().map(|l| l[key].as_f64().unwrap()).collect() };
    let (fit, held_out) = (curve("log_likelihood"), curve("validation_log_likelihood"));
    assert!(fit[7] > fit[0] + 1.0, "{fit:?}");
    assert!(held_out[7] > held_out[0], "{held_out:?}");

    // unconditional rows follow the data
    let out = dir.path().join("rows.csv");
    let (_, synthetic, gap) = marginal_gap(&run, &out, "relationship");
    assert!(gap < 0.06, "relationship frequencies differ by {gap}");
    // conditions on any columns are met at the first draw
    let rich = dir.path().join("rich.csv");
    sample_from(
        &run,
        "300",
        &rich,
        &[
            "--condition",
            "income=>50K",
            "--condition",
            "hours-per-week=30..45",
        ],
    )
    .success()
    .stdout(predicates::str::contains("match rate: 100.0%"));
    let rich = read_table(&rich).unwrap();
    assert_eq!(
        frequencies(&rich, "income").keys().collect::<Vec<_>>(),
        [">50K"]
    );
    let hours = rich.column("hours-per-week").unwrap().i64().unwrap();
    assert!(hours.into_no_null_iter().all(|h| (30..=45).contains(&h)));
    let married = |df: &DataFrame| frequencies(df, "marital-status")["Married-civ-spouse"];
    assert!(
        married(&rich) > married(&synthetic) + 0.25,
        "the rich are mostly married in the data: {} vs {}",
        married(&rich),
        married(&synthetic)
    );
    sample_from(&run, "10", &out, &["--condition", "age=500"])
        .failure()
        .stderr(predicates::str::contains("column `age` has no value `500`"));

    // resuming continues the run
    train(
        "configs/smoke/mixture.toml",
        &run,
        &["--epochs", "9", "--resume"],
    )
    .success()
    .stdout(predicates::str::contains("trained 9 epochs"));
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        9
    );

    // a damaged mixture file is named
    std::fs::write(ckpt.join("mixture.json"), "{\"leaves\": [").unwrap();
    sample_from(&ckpt, "10", &out, &[])
        .failure()
        .stderr(predicates::str::contains("mixture.json"));
}

/// `--shard I/K`: the parts have their shares of the rows, differ from each other, repeat
/// exactly, and together are as many rows as asked; a shard outside 0..K is refused.
#[test]
fn shards_split_a_draw_into_reproducible_parts() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train("configs/smoke/mixture.toml", &run, &["--epochs", "2"]).success();
    let part = |shard: &str, name: &str| {
        let out = dir.path().join(name);
        sample_from(&run, "101", &out, &["--seed", "4", "--shard", shard]).success();
        read_table(&out).unwrap()
    };
    let parts: Vec<DataFrame> = (0..3)
        .map(|i| part(&format!("{i}/3"), &format!("part{i}.csv")))
        .collect();
    let heights: Vec<usize> = parts.iter().map(DataFrame::height).collect();
    assert_eq!(heights, [34, 34, 33]);
    assert_eq!(part("1/3", "again.csv"), parts[1]);
    assert_ne!(parts[0].head(Some(33)), parts[2]);
    let whole = part("0/1", "whole.csv");
    assert_eq!(whole.height(), 101);
    sample_from(&run, "10", &dir.path().join("bad.csv"), &["--shard", "3/3"])
        .failure()
        .stderr(predicates::str::contains("shard index must be below"));
}
