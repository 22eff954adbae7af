//! A typed builder for GenQuery1 requests: selected columns (with ordering or aggregation) and
//! conditions, rendered the way the server parses them (`= 'value'`, `like 'a%'`, `in ('a','b')`,
//! `between 'a' 'b'`).
//!
//! iRODS has no quoting inside condition values: the value is the text between the first and the
//! last single quote, so embedded quotes survive as long as the value is wrapped exactly once.

use crate::consts::genquery_flags::*;
use crate::messages::{GenQueryInp, InxIvalPair, InxValPair, KeyValPair};

/// A GenQuery column number (`rodsGenQuery.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Column(pub i32);

/// Column numbers used by the ingest and by python-irodsclient's models.
pub mod col {
    use super::Column;

    pub const ZONE_ID: Column = Column(101);
    pub const ZONE_NAME: Column = Column(102);
    pub const ZONE_TYPE: Column = Column(103);

    pub const USER_ID: Column = Column(201);
    pub const USER_NAME: Column = Column(202);
    pub const USER_TYPE: Column = Column(203);
    pub const USER_ZONE: Column = Column(204);

    pub const R_RESC_ID: Column = Column(301);
    pub const R_RESC_NAME: Column = Column(302);
    pub const R_ZONE_NAME: Column = Column(303);
    pub const R_TYPE_NAME: Column = Column(304);
    pub const R_CLASS_NAME: Column = Column(305);
    pub const R_LOC: Column = Column(306);
    pub const R_VAULT_PATH: Column = Column(307);
    pub const R_RESC_CHILDREN: Column = Column(315);
    pub const R_RESC_CONTEXT: Column = Column(316);
    pub const R_RESC_PARENT: Column = Column(317);

    pub const D_DATA_ID: Column = Column(401);
    pub const D_COLL_ID: Column = Column(402);
    pub const DATA_NAME: Column = Column(403);
    pub const DATA_REPL_NUM: Column = Column(404);
    pub const DATA_VERSION: Column = Column(405);
    pub const DATA_TYPE_NAME: Column = Column(406);
    pub const DATA_SIZE: Column = Column(407);
    pub const D_RESC_NAME: Column = Column(409);
    pub const D_DATA_PATH: Column = Column(410);
    pub const D_OWNER_NAME: Column = Column(411);
    pub const D_OWNER_ZONE: Column = Column(412);
    pub const D_REPL_STATUS: Column = Column(413);
    pub const D_DATA_STATUS: Column = Column(414);
    pub const D_DATA_CHECKSUM: Column = Column(415);
    pub const D_EXPIRY: Column = Column(416);
    pub const D_MAP_ID: Column = Column(417);
    pub const D_COMMENTS: Column = Column(418);
    pub const D_CREATE_TIME: Column = Column(419);
    pub const D_MODIFY_TIME: Column = Column(420);
    pub const D_RESC_HIER: Column = Column(422);
    pub const D_RESC_ID: Column = Column(423);

    pub const COLL_ID: Column = Column(500);
    pub const COLL_NAME: Column = Column(501);
    pub const COLL_PARENT_NAME: Column = Column(502);
    pub const COLL_OWNER_NAME: Column = Column(503);
    pub const COLL_OWNER_ZONE: Column = Column(504);
    pub const COLL_MAP_ID: Column = Column(505);
    pub const COLL_INHERITANCE: Column = Column(506);
    pub const COLL_COMMENTS: Column = Column(507);
    pub const COLL_CREATE_TIME: Column = Column(508);
    pub const COLL_MODIFY_TIME: Column = Column(509);

    pub const META_DATA_ATTR_NAME: Column = Column(600);
    pub const META_DATA_ATTR_VALUE: Column = Column(601);
    pub const META_DATA_ATTR_UNITS: Column = Column(602);
    pub const META_DATA_ATTR_ID: Column = Column(603);
    pub const META_COLL_ATTR_NAME: Column = Column(610);
    pub const META_COLL_ATTR_VALUE: Column = Column(611);
    pub const META_COLL_ATTR_UNITS: Column = Column(612);
    pub const META_COLL_ATTR_ID: Column = Column(613);
    pub const META_RESC_ATTR_NAME: Column = Column(630);
    pub const META_RESC_ATTR_VALUE: Column = Column(631);
    pub const META_RESC_ATTR_UNITS: Column = Column(632);
    pub const META_USER_ATTR_NAME: Column = Column(640);
    pub const META_USER_ATTR_VALUE: Column = Column(641);
    pub const META_USER_ATTR_UNITS: Column = Column(642);

    pub const USER_GROUP_ID: Column = Column(900);
    pub const USER_GROUP_NAME: Column = Column(901);
}

/// How a selected column is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    Plain,
    OrderBy,
    OrderByDesc,
    Min,
    Max,
    Sum,
    Avg,
    Count,
}

impl Select {
    fn flag(self) -> i32 {
        match self {
            Select::Plain => SELECT_NORMAL,
            Select::OrderBy => ORDER_BY,
            Select::OrderByDesc => ORDER_BY_DESC,
            Select::Min => SELECT_MIN,
            Select::Max => SELECT_MAX,
            Select::Sum => SELECT_SUM,
            Select::Avg => SELECT_AVG,
            Select::Count => SELECT_COUNT,
        }
    }
}

/// A GenQuery1 query under construction. Conditions are ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    selects: Vec<(i32, i32)>,
    conditions: Vec<(i32, String)>,
    keywords: KeyValPair,
    max_rows: i32,
    offset: i32,
    options: i32,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            selects: Vec::new(),
            conditions: Vec::new(),
            keywords: KeyValPair::new(),
            max_rows: 500,
            offset: 0,
            options: 0,
        }
    }
}

fn quoted(value: &str) -> String {
    format!("'{value}'")
}

impl Query {
    /// Selects `columns` plainly.
    pub fn select(columns: &[Column]) -> Self {
        let mut q = Query::default();
        for c in columns {
            q = q.column(*c, Select::Plain);
        }
        q
    }

    /// Adds a selected column with its treatment.
    pub fn column(mut self, column: Column, how: Select) -> Self {
        self.selects.push((column.0, how.flag()));
        self
    }

    /// Adds a condition with an operator and one quoted value: `column <op> 'value'`.
    pub fn filter(mut self, column: Column, op: &str, value: &str) -> Self {
        self.conditions.push((column.0, format!("{op} {}", quoted(value))));
        self
    }

    pub fn eq(self, column: Column, value: &str) -> Self {
        self.filter(column, "=", value)
    }

    pub fn ne(self, column: Column, value: &str) -> Self {
        self.filter(column, "<>", value)
    }

    pub fn like(self, column: Column, pattern: &str) -> Self {
        self.filter(column, "like", pattern)
    }

    pub fn not_like(self, column: Column, pattern: &str) -> Self {
        self.filter(column, "not like", pattern)
    }

    /// `column in ('a','b',...)`.
    pub fn is_in(mut self, column: Column, values: &[&str]) -> Self {
        let list: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        self.conditions.push((column.0, format!("in ({})", list.join(","))));
        self
    }

    /// `column between 'low' 'high'`.
    pub fn between(mut self, column: Column, low: &str, high: &str) -> Self {
        self.conditions.push((column.0, format!("between {} {}", quoted(low), quoted(high))));
        self
    }

    /// Adds a condInput keyword (e.g. `zone`).
    pub fn keyword(mut self, key: &str, value: &str) -> Self {
        self.keywords.set(key, value);
        self
    }

    /// Rows per page (default 500, as python-irodsclient).
    pub fn max_rows(mut self, rows: i32) -> Self {
        self.max_rows = rows;
        self
    }

    /// Row offset of the first page.
    pub fn offset(mut self, offset: i32) -> Self {
        self.offset = offset;
        self
    }

    /// Case-insensitive conditions: the server compares upper-cased columns, so the values (not
    /// the operators) are sent upper-cased.
    pub fn case_insensitive(mut self) -> Self {
        self.options |= UPPER_CASE_WHERE;
        self
    }

    /// Selected column numbers, in order (the order of values in each result row).
    pub fn columns(&self) -> Vec<i32> {
        self.selects.iter().map(|(c, _)| *c).collect()
    }

    /// The request for the first page (`continue_inx` 0) or a continuation.
    pub fn to_input(&self, continue_inx: i32) -> GenQueryInp {
        GenQueryInp {
            max_rows: self.max_rows,
            continue_inx,
            partial_start_index: self.offset,
            options: self.options,
            cond_input: self.keywords.clone(),
            select: InxIvalPair { pairs: self.selects.clone() },
            conditions: InxValPair {
                pairs: self.conditions.iter().map(|(c, v)| (*c, self.condition_text(v))).collect(),
            },
        }
    }

    fn condition_text(&self, condition: &str) -> String {
        match condition.find('\'') {
            Some(at) if self.options & UPPER_CASE_WHERE != 0 => {
                format!("{}{}", &condition[..at], condition[at..].to_uppercase())
            }
            _ => condition.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_conditions_like_python_irodsclient() {
        let q = Query::select(&[col::DATA_NAME, col::DATA_SIZE])
            .column(col::D_MODIFY_TIME, Select::OrderByDesc)
            .eq(col::COLL_NAME, "/z/it's")
            .ne(col::D_DATA_ID, "0")
            .like(col::DATA_NAME, "a%")
            .is_in(col::DATA_REPL_NUM, &["0", "1"])
            .between(col::DATA_SIZE, "1", "9")
            .keyword("zone", "z");
        let input = q.to_input(0);
        assert_eq!(input.select.pairs, vec![(403, 1), (407, 1), (420, 0x800)]);
        assert_eq!(
            input.conditions.pairs,
            vec![
                (501, "= '/z/it's'".to_string()),
                (401, "<> '0'".into()),
                (403, "like 'a%'".into()),
                (404, "in ('0','1')".into()),
                (407, "between '1' '9'".into()),
            ]
        );
        assert_eq!(input.cond_input.get("zone"), Some("z"));
        assert_eq!(input.max_rows, 500);
        let ci = Query::select(&[col::DATA_NAME]).case_insensitive().like(col::DATA_NAME, "abc%").to_input(3);
        assert_eq!((ci.options, ci.continue_inx), (0x200, 3));
        assert_eq!(ci.conditions.pairs[0].1, "like 'ABC%'");
    }
}
