//! The schema synth infers of a table as a file people read and edit (`metadata.toml`): each
//! column's kind, storage type, date format, decimals, bounds, missing share and key shape.
//! Training from an edited file applies its every entry through the same checks as inference,
//! so an entry that contradicts the data or another entry is an error naming the column.

use crate::infer::{Bound, ColumnOverrides, bound_of, infer_meta};
use crate::{DataError, Result};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use synth_core::{ColumnKind, ColumnMeta, DType, KeyShape, MAX_DECIMALS, TableMeta};

/// The file name `synth-train` writes into the run folder.
pub const METADATA_FILE: &str = "metadata.toml";

const HEADER: &str = "\
# What synth-train inferred of each column of the training table, in table order.
# Edit it and train from it with `[data] metadata = \"<this file>\"`:
#   kind      continuous | discrete | key (unique ids, regenerated) | ignored (written back empty)
#   dtype     the column's storage type; must match the data (a check, not a conversion)
#   format    dates and times held as text: their chrono format (e.g. \"%d/%m/%Y\")
#   decimals  places decoded numbers are rounded to (float, time and timestamp columns)
#   min, max  continuous columns: the range decoded values are kept within
#             (dates and times as text in the column's format)
#   missing   share of missing values; the models learn it from the data, keys use this one
#   key       keys: how values are regenerated (shape = \"integer\" from `start`, or
#             \"text\": `prefix`, then `start` onwards zero-padded to `digits` digits)
";

/// A metadata file: one entry per column of the table, in table order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The columns (`[[column]]` tables).
    #[serde(rename = "column")]
    pub columns: Vec<ColumnEntry>,
}

/// One column of a metadata file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnEntry {
    /// Column name as in the data.
    pub name: String,
    /// How the column is modelled.
    pub kind: ColumnKind,
    /// Storage type in the data.
    pub dtype: DType,
    /// Dates and times held as text: their `chrono` format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Native timestamps with a time zone: its name (reported; it comes from the data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Decimal places of decoded values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// Smallest decoded value (continuous columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    /// Largest decoded value (continuous columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    /// Share of missing values.
    #[serde(default)]
    pub missing: f64,
    /// Key columns: how values are regenerated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyShape>,
}

impl Metadata {
    /// The file describing `meta`, dates and times written in their column's format.
    pub fn from_meta(meta: &TableMeta) -> Self {
        let columns = meta
            .columns
            .iter()
            .map(|c| {
                let bound = |x: f64| bound_of(c, x);
                ColumnEntry {
                    name: c.name.clone(),
                    kind: c.kind,
                    dtype: c.dtype,
                    format: c.format.clone(),
                    time_zone: c.time_zone.clone(),
                    decimals: c.decimals,
                    min: c.min.and_then(bound),
                    max: c.max.and_then(bound),
                    // six places: readable, and exact enough for a share
                    missing: (c.missing * 1e6).round() / 1e6,
                    key: c.key.clone(),
                }
            })
            .collect();
        Metadata { columns }
    }

    /// The file's text: a header explaining each key, then one `[[column]]` per column.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("metadata serialises to TOML");
        format!("{HEADER}\n{body}")
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        synth_core::fsutil::write_atomic(path, self.to_toml().as_bytes()).map_err(|source| {
            DataError::Metadata {
                path: path.to_path_buf(),
                message: format!("cannot write it: {source}"),
            }
        })
    }

    /// Reads a metadata file; unknown keys and values of the wrong type are errors naming
    /// the key and line.
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |message: String| DataError::Metadata {
            path: path.to_path_buf(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        toml::from_str(&text).map_err(|e| fail(e.to_string()))
    }

    /// Describes `df` as this file says, checking every entry against the data and the others:
    /// each column of `df` needs exactly one entry and each entry a column; `dtype` must be the
    /// data's; `min`/`max`, `decimals` and `format` apply to continuous columns, `key` to keys;
    /// the kinds, formats and bounds then go through inference's own checks (unparseable dates,
    /// repeated keys, non-numeric continuous columns). `limits` gives the inference limits and
    /// `on_unparseable`; its column lists must be empty (the file replaces them).
    pub fn describe(
        &self,
        df: &DataFrame,
        limits: &ColumnOverrides,
        path: &Path,
    ) -> Result<TableMeta> {
        let fail = |column: &str, message: String| DataError::Metadata {
            path: path.to_path_buf(),
            message: format!("column `{column}`: {message}"),
        };
        let names: Vec<&str> = df.columns().iter().map(|c| c.name().as_str()).collect();
        let mut seen = HashSet::new();
        for entry in &self.columns {
            if !names.contains(&entry.name.as_str()) {
                return Err(fail(
                    &entry.name,
                    format!("not in the data (its columns: {})", names.join(", ")),
                ));
            }
            if !seen.insert(entry.name.as_str()) {
                return Err(fail(&entry.name, "described more than once".into()));
            }
        }
        if let Some(name) = names.iter().find(|n| !seen.contains(**n)) {
            return Err(fail(
                name,
                "in the data but not in the file; add a [[column]] entry for it (kind = \"ignored\" leaves it out)".into(),
            ));
        }

        let mut overrides = ColumnOverrides {
            discrete: Vec::new(),
            continuous: Vec::new(),
            keys: Vec::new(),
            not_keys: Vec::new(),
            ignore: Vec::new(),
            bounds: Default::default(),
            formats: Default::default(),
            ..limits.clone()
        };
        for entry in &self.columns {
            let name = entry.name.clone();
            for (given, setting, kind) in [
                (
                    entry.min.is_some() || entry.max.is_some(),
                    "min and max apply",
                    ColumnKind::Continuous,
                ),
                (
                    entry.decimals.is_some(),
                    "decimals apply",
                    ColumnKind::Continuous,
                ),
                (entry.key.is_some(), "a key shape applies", ColumnKind::Key),
            ] {
                if given && entry.kind != kind {
                    return Err(fail(
                        &name,
                        format!(
                            "{setting} to {} columns, not to a {} one",
                            kind.name(),
                            entry.kind.name()
                        ),
                    ));
                }
            }
            if !(0.0..=1.0).contains(&entry.missing) {
                return Err(fail(
                    &name,
                    format!("missing = {} is not a share between 0 and 1", entry.missing),
                ));
            }
            match (&entry.min, &entry.max) {
                (Some(min), Some(max)) => {
                    overrides
                        .bounds
                        .insert(name.clone(), [min.clone(), max.clone()]);
                }
                (None, None) => {}
                _ => return Err(fail(&name, "give both min and max, or neither".into())),
            }
            if let Some(format) = &entry.format {
                if entry.kind != ColumnKind::Continuous {
                    return Err(fail(
                        &name,
                        format!(
                            "format `{format}` makes it a date or time, which is continuous, not {}",
                            entry.kind.name()
                        ),
                    ));
                }
                overrides.formats.insert(name.clone(), format.clone());
            }
            match entry.kind {
                ColumnKind::Discrete => overrides.discrete.push(name),
                ColumnKind::Continuous => overrides.continuous.push(name),
                ColumnKind::Key => overrides.keys.push(name),
                ColumnKind::Ignored => overrides.ignore.push(name),
            }
        }
        // the kinds act as `data.discrete`/`continuous`/`keys`/`ignore`, so name the file too
        let mut meta = infer_meta(df, &overrides).map_err(|e| DataError::Metadata {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;

        for (column, entry) in meta.columns.iter_mut().zip(&self.columns) {
            if column.dtype != entry.dtype {
                return Err(fail(
                    &entry.name,
                    format!(
                        "dtype = \"{}\", but the data's column reads as {}{}",
                        entry.dtype.name(),
                        column.dtype.name(),
                        if entry.dtype.is_temporal() && entry.format.is_none() {
                            " (dates and times held as text need their format)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if let Some(places) = entry.decimals {
                apply_decimals(column, places).map_err(|m| fail(&entry.name, m))?;
            }
            if let Some(key) = &entry.key {
                apply_key(column, key, entry.missing).map_err(|m| fail(&entry.name, m))?;
            }
        }
        Ok(meta)
    }
}

fn apply_decimals(column: &mut ColumnMeta, places: u32) -> std::result::Result<(), String> {
    if column.dtype.is_whole() {
        return Err(format!(
            "decimals = {places}, but {} values are whole numbers",
            column.dtype.name()
        ));
    }
    if places > MAX_DECIMALS {
        return Err(format!("decimals = {places} is above {MAX_DECIMALS}"));
    }
    column.decimals = Some(places);
    Ok(())
}

fn apply_key(
    column: &mut ColumnMeta,
    key: &KeyShape,
    missing: f64,
) -> std::result::Result<(), String> {
    key.check(column.dtype)?;
    column.key = Some(key.clone());
    column.missing = missing;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn frame() -> DataFrame {
        let n = 40;
        df!(
            "tx_id" => (0..n).map(|i| format!("TX{:04}", 10 + i)).collect::<Vec<_>>(),
            "day" => (0..n).map(|i| (i % 9 != 4).then(|| format!("2024-02-{:02}", 1 + i % 28))).collect::<Vec<_>>(),
            "amount" => (0..n).map(|i| (i * 37 % 1000) as f64 / 100.0).collect::<Vec<_>>(),
            "channel" => (0..n).map(|i| ["web", "shop", "phone"][i % 3]).collect::<Vec<_>>(),
            "note" => (0..n).map(|i| format!("n{}", i % 5)).collect::<Vec<_>>()
        )
        .unwrap()
    }

    fn inferred() -> TableMeta {
        let overrides = ColumnOverrides {
            ignore: vec!["note".into()],
            ..ColumnOverrides::default()
        };
        infer_meta(&frame(), &overrides).unwrap()
    }

    fn describe(text: &str) -> Result<TableMeta> {
        let file: Metadata = toml::from_str(text).map_err(|e| DataError::Metadata {
            path: "m.toml".into(),
            message: e.to_string(),
        })?;
        file.describe(&frame(), &ColumnOverrides::default(), Path::new("m.toml"))
    }

    /// The written file reads back to exactly what was inferred, dates as text.
    #[test]
    fn written_metadata_describes_the_table_as_inferred() {
        let meta = inferred();
        let text = Metadata::from_meta(&meta).to_toml();
        assert!(text.contains("min = \"2024-02-01\""), "{text}");
        assert!(text.contains("kind = \"key\""), "{text}");
        assert_eq!(describe(&text).unwrap(), meta);
    }

    /// Edits take effect: a kind, decimals, a key's prefix and missing share, date bounds.
    #[test]
    fn edits_take_effect() {
        let text = Metadata::from_meta(&inferred())
            .to_toml()
            .replace("prefix = \"TX\"", "prefix = \"SYN-\"")
            .replace("max = \"2024-02-28\"", "max = \"2024-06-30\"")
            .replace("decimals = 2", "decimals = 1")
            .replace(
                "name = \"note\"\nkind = \"ignored\"",
                "name = \"note\"\nkind = \"discrete\"",
            );
        let meta = describe(&text).unwrap();
        let id = meta.column("tx_id").unwrap();
        assert!(
            matches!(&id.key, Some(KeyShape::Text { prefix, digits: 4, start: 10 }) if prefix == "SYN-"),
            "{id:?}"
        );
        assert_eq!(meta.column("day").unwrap().max, Some(19_904.0));
        assert_eq!(meta.column("amount").unwrap().decimals, Some(1));
        assert_eq!(meta.column("note").unwrap().kind, ColumnKind::Discrete);
        let text = text.replace(
            "name = \"tx_id\"\nkind = \"key\"\ndtype = \"str\"\nmissing = 0.0\n",
            "name = \"tx_id\"\nkind = \"key\"\ndtype = \"str\"\nmissing = 0.5\n",
        );
        assert_eq!(
            describe(&text).unwrap().column("tx_id").unwrap().missing,
            0.5
        );
    }

    /// Unknown keys, entries that contradict the data or each other: errors naming the file
    /// and the column (or key).
    #[test]
    fn contradictions_are_named() {
        let text = Metadata::from_meta(&inferred()).to_toml();
        let channel = "name = \"channel\"\nkind = \"discrete\"\ndtype = \"str\"";
        assert!(text.contains(channel), "{text}");
        for (edit, expected) in [
            (
                text.replace(channel, &format!("{channel}\ncolour = \"red\"")),
                "colour",
            ),
            (
                text.replace(channel, &format!("{channel}\nmin = 1")),
                "`channel`: min and max apply to continuous",
            ),
            (
                text.replace(channel, &format!("{channel}\ndecimals = 1")),
                "`channel`: decimals apply",
            ),
            (
                text.replace(
                    channel,
                    "name = \"channel\"\nkind = \"discrete\"\ndtype = \"i64\"",
                ),
                "`channel`: dtype = \"i64\"",
            ),
            (
                text.replace(
                    channel,
                    "name = \"chanel\"\nkind = \"discrete\"\ndtype = \"str\"",
                ),
                "`chanel`: not in the data",
            ),
            (
                text.replace("name = \"note\"", "name = \"channel\""),
                "`channel`: described more than once",
            ),
            (
                text.replace("min = \"2024-02-01\"\n", ""),
                "`day`: give both min and max",
            ),
            (text.replace("min = \"2024-02-01\"", "min = 3"), "`day`"),
            (
                text.replace(
                    "shape = \"text\"\nprefix = \"TX\"\ndigits = 4\nstart = 10",
                    "shape = \"integer\"\nstart = 10",
                ),
                "`tx_id`: shape = \"integer\" needs an integer column",
            ),
            (
                text.replace(
                    &format!("{channel}\nmissing = 0.0"),
                    &format!("{channel}\nmissing = 1.5"),
                ),
                "`channel`: missing = 1.5",
            ),
            (
                text.replace(
                    channel,
                    "name = \"channel\"\nkind = \"continuous\"\ndtype = \"str\"",
                ),
                "`channel`",
            ),
            (
                text.replace(
                    channel,
                    "name = \"channel\"\nkind = \"key\"\ndtype = \"str\"",
                ),
                "`channel`",
            ),
            (
                text.replace("kind = \"ignored\"", "kind = \"hidden\""),
                "hidden",
            ),
        ] {
            let err = describe(&edit).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let short = text
            .split("[[column]]")
            .take(5)
            .collect::<Vec<_>>()
            .join("[[column]]");
        let err = describe(&short).unwrap_err().to_string();
        assert!(
            err.contains("`note`: in the data but not in the file"),
            "{err}"
        );
    }

    #[test]
    fn files_are_named_on_load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.toml");
        let err = Metadata::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("meta.toml") && err.contains("cannot read"),
            "{err}"
        );
        std::fs::write(&path, "[[column]]\nname = 3\n").unwrap();
        let err = Metadata::load(&path).unwrap_err().to_string();
        assert!(err.contains("meta.toml") && err.contains("line"), "{err}");
        Metadata::from_meta(&inferred()).write(&path).unwrap();
        assert_eq!(
            Metadata::load(&path).unwrap(),
            Metadata::from_meta(&inferred())
        );
    }
}
