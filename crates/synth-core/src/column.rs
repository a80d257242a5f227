//! What the pipeline knows about each column of a table.

use serde::{Deserialize, Serialize};

/// How a column is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Numbers, encoded by mode-specific normalisation.
    Continuous,
    /// Categories, encoded one-hot.
    Discrete,
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

/// The modelled columns of a table, in table order (ignored columns are absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Columns in the order of the source table.
    pub columns: Vec<ColumnMeta>,
}

impl TableMeta {
    /// The column with this name, if it is modelled.
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
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
