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
