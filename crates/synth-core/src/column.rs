//! What the pipeline knows about each column of a table.

use serde::{Deserialize, Serialize};

/// How a column is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Numbers, dates and times, encoded by mode-specific normalisation.
    Continuous,
    /// Categories, encoded one-hot.
    Discrete,
    /// An identifier (unique per row): left out of the model and regenerated as unique
    /// values of the same shape ([`ColumnMeta::key`]).
    Key,
    /// Left out of the model; written back as missing values.
    Ignored,
}

impl ColumnKind {
    /// True for the kinds the models learn (continuous and discrete).
    pub fn is_modelled(self) -> bool {
        matches!(self, ColumnKind::Continuous | ColumnKind::Discrete)
    }

    /// The kind's name, as written in config and metadata files.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Continuous => "continuous",
            ColumnKind::Discrete => "discrete",
            ColumnKind::Key => "key",
            ColumnKind::Ignored => "ignored",
        }
    }
}

/// The storage type of a column, restored when synthetic rows are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Str,
    /// Calendar dates, modelled as days since 1970-01-01.
    Date,
    /// Times of day, modelled as seconds since midnight.
    Time,
    /// Timestamps in milliseconds, modelled as seconds since 1970-01-01T00:00:00.
    #[serde(rename = "datetime[ms]")]
    DatetimeMs,
    /// Timestamps in microseconds (and timestamps read from text).
    #[serde(rename = "datetime[us]")]
    DatetimeUs,
    /// Timestamps in nanoseconds.
    #[serde(rename = "datetime[ns]")]
    DatetimeNs,
}

impl DType {
    /// True for the integer types, whose decoded values are rounded.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DType::I8
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        )
    }

    /// True for integer and floating-point types.
    pub fn is_numeric(self) -> bool {
        self.is_integer() || matches!(self, DType::F32 | DType::F64)
    }

    /// The type's name, as written in `transformer.json` and metadata files.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::Str => "str",
            DType::Date => "date",
            DType::Time => "time",
            DType::DatetimeMs => "datetime[ms]",
            DType::DatetimeUs => "datetime[us]",
            DType::DatetimeNs => "datetime[ns]",
        }
    }

    /// True for dates, times and timestamps.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            DType::Date | DType::Time | DType::DatetimeMs | DType::DatetimeUs | DType::DatetimeNs
        )
    }

    /// True for the types whose values are whole numbers in the model (integers, and dates
    /// counted in days), rounded when decoded.
    pub fn is_whole(self) -> bool {
        self.is_integer() || self == DType::Date
    }
}

/// How a key column's values are regenerated: row `r` of the output (counted from 0 over the
/// whole output) gets the value `start + r` (`start + r * step` for integers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeyShape {
    /// An integer sequence.
    Integer {
        /// The first value.
        start: i64,
        /// The difference between consecutive values (the data's stride: negative when its
        /// ids fall row after row).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        step: i64,
    },
    /// Text: `prefix` followed by the number, zero-padded to `digits` digits.
    Text {
        /// What every value starts with.
        prefix: String,
        /// The number's width (0: no padding).
        digits: usize,
        /// The first number.
        start: u64,
    },
}

fn one() -> i64 {
    1
}

fn is_one(step: &i64) -> bool {
    *step == 1
}

/// A personal column (`data.pii`): the model learns pseudonyms in place of its values, and
/// each pseudonym comes out as a plausible fake of the column's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pii {
    /// What the values are, and so what their fakes look like.
    pub kind: PiiKind,
    /// The same pseudonym gives the same fake in every row (the same real value then maps
    /// to the same fake within an output); otherwise each row draws its own.
    pub consistent: bool,
    /// Mixed into every fake's random stream (from the run's seed), so that runs on the same
    /// data do not share fakes.
    pub salt: u64,
}

/// What a personal column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Full names of people.
    Name,
    /// Given names.
    FirstName,
    /// Family names.
    LastName,
    /// Email addresses (fakes use the reserved example domains).
    Email,
    /// Phone numbers: fakes keep each value's layout, with other digits.
    Phone,
    /// Street addresses.
    Address,
    /// Anything else: fakes keep each value's length and alphabet (upper and lower case
    /// letters, digits; other characters as they are).
    Text,
}

impl PiiKind {
    /// The kind's name, as written in logs and metadata.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Name => "name",
            PiiKind::FirstName => "first_name",
            PiiKind::LastName => "last_name",
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Address => "address",
            PiiKind::Text => "text",
        }
    }
}

/// The longest prefix a text key may carry (longer ones come only from damaged files).
pub const MAX_KEY_PREFIX: usize = 1024;

impl KeyShape {
    /// Checks the shape fits a column of `dtype` and writes values of bounded length.
    pub fn check(&self, dtype: DType) -> Result<(), String> {
        match self {
            KeyShape::Integer { .. } if !dtype.is_integer() => Err(format!(
                "shape = \"integer\" needs an integer column, this one is {}",
                dtype.name()
            )),
            KeyShape::Text { .. } if dtype != DType::Str => Err(format!(
                "shape = \"text\" needs a text column, this one is {}",
                dtype.name()
            )),
            KeyShape::Integer { step: 0, .. } => {
                Err("step = 0 would repeat the first value; give a step other than 0".into())
            }
            KeyShape::Text { digits, .. } if *digits > 20 => Err(format!(
                "digits = {digits} is more than a 64-bit number has (20)"
            )),
            KeyShape::Text { prefix, .. } if prefix.len() > MAX_KEY_PREFIX => Err(format!(
                "a prefix of {} bytes is longer than {MAX_KEY_PREFIX}",
                prefix.len()
            )),
            _ => Ok(()),
        }
    }
}

/// One column of the training table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// Column name as in the source file.
    pub name: String,
    /// Continuous or discrete.
    pub kind: ColumnKind,
    /// Storage type in the source table.
    pub dtype: DType,
    /// Smallest non-null value of a numeric column.
    pub min: Option<f64>,
    /// Largest non-null value of a numeric column.
    pub max: Option<f64>,
    /// Decimal places of a floating-point column's values in the data (at most
    /// [`MAX_DECIMALS`]); decoded values are rounded to them. `None` for other columns, for
    /// numbers that need more places, and in checkpoints written before it was learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// Dates and times read from text: their `chrono` format, in which they are written back.
    /// `None` for native date and time columns and for every other column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Native timestamps with a time zone: its name, restored on output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// A personal column: its values are pseudonyms, written out as fakes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<Pii>,
    /// Key columns: how their values are regenerated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyShape>,
    /// Share of missing values in the data. Keys regenerate missing values at this share;
    /// the models learn the missing values of the columns they model.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missing: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl ColumnMeta {
    /// A column of `kind` and `dtype` with nothing else known about it.
    pub fn new(name: impl Into<String>, kind: ColumnKind, dtype: DType) -> Self {
        ColumnMeta {
            name: name.into(),
            kind,
            dtype,
            min: None,
            max: None,
            decimals: None,
            format: None,
            time_zone: None,
            pii: None,
            key: None,
            missing: 0.0,
        }
    }

    /// The decimal places decoded values are rounded to: none for whole-number types, the
    /// learned ones otherwise.
    pub fn places(&self) -> Option<u32> {
        if self.dtype.is_whole() {
            Some(0)
        } else {
            self.decimals
        }
    }
}

/// The most decimal places a column's precision is learned to; values that need more are
/// written back unrounded.
pub const MAX_DECIMALS: u32 = 10;

/// The fewest decimal places (up to [`MAX_DECIMALS`]) that write `x` exactly, within the
/// relative precision `epsilon` of the type it was stored in (`f32::EPSILON` for f32 values).
pub fn decimals_of(x: f64, epsilon: f64) -> Option<u32> {
    (0..=MAX_DECIMALS).find(|&d| {
        let scaled = x * 10f64.powi(d as i32);
        (scaled - scaled.round()).abs() <= 16.0 * epsilon * scaled.abs().max(1.0)
    })
}

/// `x` rounded to `decimals` places.
pub fn round_to(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (x * scale).round() / scale
}

/// The columns of a table, in table order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Columns in the order of the source table.
    pub columns: Vec<ColumnMeta>,
}

impl TableMeta {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns the models learn (continuous and discrete), in table order.
    pub fn modelled(&self) -> impl Iterator<Item = &ColumnMeta> {
        self.columns.iter().filter(|c| c.kind.is_modelled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_rounding_by_hand() {
        let places = |x: f64| decimals_of(x, f64::EPSILON);
        assert_eq!(places(3.0), Some(0));
        assert_eq!(places(-3.0), Some(0));
        assert_eq!(places(12.35), Some(2));
        assert_eq!(places(0.1), Some(1));
        assert_eq!(places(1e-5), Some(5));
        assert_eq!(places(123456789.123), Some(3));
        assert_eq!(places(1e9 + 0.5), Some(1));
        assert_eq!(places(1.0 / 3.0), None);
        assert_eq!(places(1e-11), None);
        assert_eq!(decimals_of(f64::from(0.1f32), f64::EPSILON), None);
        assert_eq!(
            decimals_of(f64::from(0.1f32), f64::from(f32::EPSILON)),
            Some(1)
        );
        assert_eq!(round_to(2.345678, 2), 2.35);
        assert_eq!(round_to(-2.345678, 0), -2.0);
        assert_eq!(round_to(1999.994, 2), 1999.99);
    }
}
