//! Generated inputs for every reader and loader a user's file reaches: CSV and Parquet tables
//! (read, inferred, fitted, encoded and decoded), run configs, IDX files (plain and gzip),
//! image folders, `transformer.json`, checkpoint manifests and `latest` pointers. Each case
//! must end in `Ok` or a typed error; a panic fails the test. The case counts keep the whole
//! file within a few seconds of CI time.

use proptest::prelude::*;
use proptest::sample::select;
use std::io::Write;
use std::path::Path;
use std::sync::LazyLock;
use synth_core::Manifest;
use synth_data::images::{ImageSpec, OnCorrupt, load_idx, load_image_folder};
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_tabular::{DataTransformer, EncodedTable, TransformerConfig};

/// CSV fields that have broken readers before: empty, NaN and infinities, numbers beyond
/// f64 and i64/u64, quotes, dates, non-ASCII and control characters.
const FIELDS: &[&str] = &[
    "",
    "0",
    "-1",
    "3.5",
    "1e308",
    "1e400",
    "-1e200",
    "NaN",
    "inf",
    "-inf",
    "9007199254740993",
    "9223372036854775808",
    "18446744073709551616",
    "abc",
    "\"q,uoted\"",
    "\"unterminated",
    "2024-01-02",
    "true",
    " ",
    "é",
    "\u{1}",
];

/// Numbers of every size and sign, as a numeric column holds them.
const NUMBERS: &[&str] = &[
    "0", "-1", "3.5", "1e-300", "2", "7", "1e15", "-2.25", "", "42",
];

/// Words, as a categorical column holds them.
const WORDS: &[&str] = &["a", "b", "c", "", "x y", "\"q,uoted\"", "é"];

/// A table of `columns` columns, each drawn from one pool (numbers, words, or every tricky
/// field), sometimes with a duplicated header or a ragged row.
fn csv_text() -> impl Strategy<Value = String> {
    (1usize..5)
        .prop_flat_map(|columns| {
            let pools = prop::collection::vec(select(&[NUMBERS, WORDS, FIELDS][..]), columns);
            let picks = prop::collection::vec(
                prop::collection::vec(any::<prop::sample::Index>(), columns),
                0..30,
            );
            (pools, picks, any::<u8>())
        })
        .prop_map(|(pools, picks, flaw)| {
            let mut header: Vec<String> = (0..pools.len()).map(|i| format!("c{i}")).collect();
            if flaw % 16 == 0 && header.len() > 1 {
                header[1] = header[0].clone();
            }
            let mut text = header.join(",");
            for (r, row) in picks.iter().enumerate() {
                let mut fields: Vec<&str> = row
                    .iter()
                    .zip(&pools)
                    .map(|(i, pool)| *i.get(pool))
                    .collect();
                if flaw % 16 == 1 && r == 3 {
                    fields.push("extra");
                }
                text.push('\n');
                text.push_str(&fields.join(","));
            }
            text
        })
}

/// A small, fast transformer setting for the generated tables.
fn quick_transformer() -> TransformerConfig {
    let mut config = TransformerConfig::default();
    config.mixture.max_modes = 3;
    config.mixture.max_iter = 20;
    config
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A CSV goes through everything training does with it: read, inferred, fitted, encoded
    /// and decoded back.
    #[test]
    fn csv_tables_read_fit_and_round_trip_without_panicking(text in csv_text()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.csv");
        std::fs::write(&path, &text).unwrap();
        let Ok(df) = read_table(&path) else { return Ok(()) };
        let Ok(meta) = infer_meta(&df, &ColumnOverrides::default()) else { return Ok(()) };
        let Ok(transformer) = DataTransformer::fit(&df, &meta, &quick_transformer(), 1) else {
            return Ok(());
        };
        let encoded = transformer.encode(&df, 2).unwrap();
        prop_assert!(encoded.data.iter().all(|v| v.is_finite()));
        let decoded = transformer.decode(&encoded, 0).unwrap();
        prop_assert_eq!(decoded.height(), df.height());
    }

    /// Arbitrary bytes under a `.csv` or `.parquet` name.
    #[test]
    fn arbitrary_bytes_are_errors_not_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        parquet in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if parquet { "t.parquet" } else { "t.csv" });
        let mut bytes = bytes;
        if parquet && bytes.len() > 8 {
            // a plausible frame so the reader gets past its first check
            bytes[..4].copy_from_slice(b"PAR1");
            let n = bytes.len();
            bytes[n - 4..].copy_from_slice(b"PAR1");
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(df) = read_table(&path) {
            let _ = infer_meta(&df, &ColumnOverrides::default());
        }
    }

    /// Run configs: known keys with values of every type and sign.
    #[test]
    fn configs_parse_or_name_the_key(
        lines in prop::collection::vec(
            (
                select(&[
                    "seed", "[data]", "path", "[train]", "epochs", "batch_size",
                    "checkpoint_every", "log_every", "[model]", "kind", "embedding_dim",
                    "generator_dim", "pac", "tau", "generator_lr", "betas", "[transformer]",
                    "max_modes", "reg_covar", "[eval]", "rows", "max_categories",
                ][..]),
                select(&[
                    "0", "-1", "3", "1e400", "nan", "inf", "-0.5", "\"ctgan\"", "\"tvae\"",
                    "\"dcgan\"", "\"x\"", "[]", "[0]", "[64, 64]", "[0.5, 2.0]", "true",
                    "18446744073709551616", "{}",
                ][..]),
            ),
            0..14,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|(k, v)| if k.starts_with('[') { format!("{k}\n") } else { format!("{k} = {v}\n") })
            .collect();
        let _ = synth_pipeline::config::RunConfig::parse(&text);
    }

    /// IDX image files: any magic, rank and dimensions (up to u32::MAX), a short body, plain
    /// or gzip, with or without a labels file.
    #[test]
    fn idx_files_are_errors_not_panics(
        kind in select(&[0x08u8, 0x09, 0x0B, 0x0D, 0x00, 0xFF][..]),
        dims in prop::collection::vec(
            prop_oneof![Just(0u32), Just(1), Just(28), Just(u32::MAX), any::<u32>()],
            0..5,
        ),
        body in prop::collection::vec(any::<u8>(), 0..3200),
        gzip in any::<bool>(),
        labels in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
    ) {
        let mut bytes = vec![0, 0, kind, dims.len() as u8];
        for d in &dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(&body);
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join(if gzip { "images.gz" } else { "images" });
        if gzip {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&bytes).unwrap();
            bytes = encoder.finish().unwrap();
        }
        std::fs::write(&images, &bytes).unwrap();
        let labels = labels.map(|l| {
            let path = dir.path().join("labels");
            let mut file = vec![0, 0, 8, 1];
            file.extend((l.len() as u32).to_be_bytes());
            file.extend(l);
            std::fs::write(&path, file).unwrap();
            path
        });
        let spec = ImageSpec { size: 28, channels: 1, on_corrupt: OnCorrupt::Fail };
        if let Ok(set) = load_idx(&images, labels.as_deref(), &spec) {
            prop_assert_eq!(set.pixels.len(), set.len * 28 * 28);
        }
    }

    /// Image folders of damaged files beside a valid one, failing or skipping.
    #[test]
    fn image_folders_are_errors_not_panics(
        files in prop::collection::vec(
            (select(&["png", "jpg", "jpeg", "PNG", "txt"][..]), prop::collection::vec(any::<u8>(), 0..300)),
            0..5,
        ),
        skip in any::<bool>(),
        cut in 0usize..80,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut png = Vec::new();
        image::GrayImage::new(3, 5)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        std::fs::write(dir.path().join("good.png"), &png).unwrap();
        std::fs::write(dir.path().join("cut.png"), &png[..cut.min(png.len())]).unwrap();
        for (i, (ext, bytes)) in files.iter().enumerate() {
            let mut bytes = bytes.clone();
            if *ext == "png" && bytes.len() > 8 {
                bytes[..8].copy_from_slice(&png[..8]);
            }
            std::fs::write(dir.path().join(format!("{i}.{ext}")), &bytes).unwrap();
        }
        let spec = ImageSpec {
            size: 28,
            channels: 1,
            on_corrupt: if skip { OnCorrupt::Skip } else { OnCorrupt::Fail },
        };
        if let Ok(set) = load_image_folder(dir.path(), &spec) {
            prop_assert!(set.len >= 1);
            prop_assert_eq!(set.pixels.len(), set.len * 28 * 28);
        }
    }

    /// `transformer.json` with one value replaced anywhere: refused, or it decodes any
    /// matrix of its width.
    #[test]
    fn edited_transformers_are_refused_or_usable(
        leaf in any::<prop::sample::Index>(),
        value in select(&["-1", "0", "1", "1e308", "1e9", "\"x\"", "null", "[]", "[0, 0]", "{}", "true"][..]),
        cells in prop::collection::vec(-3.0f32..3.0, 64),
    ) {
        let mut json: serde_json::Value = serde_json::from_str(&TRANSFORMER).unwrap();
        let mut leaves = Vec::new();
        collect_leaves(&json, String::new(), &mut leaves);
        let pointer = leaf.get(&leaves).clone();
        *json.pointer_mut(&pointer).unwrap() = serde_json::from_str(value).unwrap();
        let Ok(transformer) = DataTransformer::from_json(&json.to_string()) else { return Ok(()) };
        let width = transformer.width();
        let rows = 4;
        let data = (0..rows * width).map(|i| cells[i % cells.len()]).collect();
        let decoded = transformer.decode(&EncodedTable { data, rows, width }, 0);
        if let Ok(df) = decoded {
            prop_assert_eq!(df.height(), rows);
        }
    }

    /// Checkpoint manifests and `latest` pointers of any text.
    #[test]
    fn manifests_and_pointers_are_errors_not_panics(
        manifest in prop::collection::vec(
            (
                select(&["format_version", "kind", "epoch", "step", "data_hash", "crate_version", "x"][..]),
                select(&["1", "0", "-1", "99", "18446744073709551616", "\"ctgan\"", "\"\"", "[]", "1.5"][..]),
            ),
            0..8,
        ),
        pointer in prop::collection::vec(any::<u8>(), 0..40),
        named in select(&["epoch-0001", "epoch-1", "../epoch-0001", "/tmp", "epoch-0001/..", ""][..]),
        use_named in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("ckpt");
        let epoch = ckpt.join("epoch-0001");
        std::fs::create_dir_all(&epoch).unwrap();
        let text: String = manifest.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        std::fs::write(epoch.join("manifest.toml"), text).unwrap();
        let _ = Manifest::load(&epoch);
        let pointer = if use_named { named.as_bytes().to_vec() } else { pointer };
        std::fs::write(ckpt.join("latest"), &pointer).unwrap();
        if let Ok(found) = synth_core::Checkpoint::find(dir.path()).map(synth_core::Checkpoint::into_dir) {
            prop_assert_eq!(found, epoch, "a pointer may only name a folder inside ckpt/");
        }
    }
}

/// JSON pointers to every leaf (number, string, bool, null, empty container) of `value`.
fn collect_leaves(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                collect_leaves(v, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                collect_leaves(v, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// A transformer fitted on a slice of the test table: two continuous and two discrete
/// columns.
static TRANSFORMER: LazyLock<String> = LazyLock::new(|| {
    let df = read_table(Path::new("tests/fixtures/adult_2k.csv"))
        .unwrap()
        .head(Some(300))
        .select(["age", "workclass", "hours-per-week", "income"])
        .unwrap();
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    DataTransformer::fit(&df, &meta, &quick_transformer(), 3)
        .unwrap()
        .to_json()
});
