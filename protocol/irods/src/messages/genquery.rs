//! GenQuery1 request and reply structs (API 702). The typed query builder lives in
//! [`crate::query`].

use super::common::{InxIvalPair, InxValPair, KeyValPair};
use crate::error::DecodeError;
use crate::pi::{PackStruct, nested};
use crate::xml::Element;

/// `GenQueryInp_PI` = `int maxRows; int continueInx; int partialStartIndex; int options;
/// struct KeyValPair_PI; struct InxIvalPair_PI; struct InxValPair_PI;`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenQueryInp {
    pub max_rows: i32,
    /// 0 for a new query; the previous reply's value to continue; with `max_rows` 0, closes it.
    pub continue_inx: i32,
    /// Row offset.
    pub partial_start_index: i32,
    pub options: i32,
    pub cond_input: KeyValPair,
    /// Selected columns and their flags (1, ORDER_BY, aggregates).
    pub select: InxIvalPair,
    /// Conditions: column and `"= 'value'"`-style text.
    pub conditions: InxValPair,
}

impl PackStruct for GenQueryInp {
    const PI_NAME: &'static str = "GenQueryInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("maxRows", self.max_rows)
            .push_int("continueInx", self.continue_inx)
            .push_int("partialStartIndex", self.partial_start_index)
            .push_int("options", self.options)
            .push_child(self.cond_input.to_element())
            .push_child(self.select.to_element())
            .push_child(self.conditions.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(GenQueryInp {
            max_rows: el.get_int("maxRows")?,
            continue_inx: el.get_int("continueInx")?,
            partial_start_index: el.get_int("partialStartIndex")?,
            options: el.get_int("options")?,
            cond_input: nested(el)?,
            select: nested(el)?,
            conditions: nested(el)?,
        })
    }
}

/// `SqlResult_PI` = `int attriInx; int reslen; str *value(rowCnt)(reslen);` — one result column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlResult {
    pub attri_inx: i32,
    pub reslen: i32,
    pub values: Vec<String>,
}

impl PackStruct for SqlResult {
    const PI_NAME: &'static str = "SqlResult_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("attriInx", self.attri_inx).push_int("reslen", self.reslen);
        for v in &self.values {
            el.push_str("value", v);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(SqlResult {
            attri_inx: el.get_int("attriInx")?,
            reslen: el.get_int("reslen")?,
            values: el.get_strs("value"),
        })
    }
}

/// `GenQueryOut_PI` = `int rowCnt; int attriCnt; int continueInx; int totalRowCount;
/// struct SqlResult_PI[50];`
///
/// A real server packs all 50 result slots (unused ones empty); only the first `attri_cnt` count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenQueryOut {
    pub row_cnt: i32,
    pub attri_cnt: i32,
    pub continue_inx: i32,
    pub total_row_count: i32,
    pub results: Vec<SqlResult>,
}

impl GenQueryOut {
    /// Builds a reply from rows (each row in select order); `reslen` = longest value + 1, min 50.
    pub fn from_rows(columns: &[i32], rows: &[Vec<String>], continue_inx: i32) -> Self {
        let results = columns
            .iter()
            .enumerate()
            .map(|(i, &col)| {
                let values: Vec<String> =
                    rows.iter().map(|r| r.get(i).cloned().unwrap_or_default()).collect();
                let reslen = values.iter().map(|v| v.len() as i32 + 1).max().unwrap_or(0).max(50);
                SqlResult { attri_inx: col, reslen, values }
            })
            .collect();
        GenQueryOut {
            row_cnt: rows.len() as i32,
            attri_cnt: columns.len() as i32,
            continue_inx,
            total_row_count: 0,
            results,
        }
    }

    /// The rows, each with one value per selected column (missing values read as "").
    pub fn rows(&self) -> Vec<Vec<String>> {
        let columns = &self.results[..(self.attri_cnt.max(0) as usize).min(self.results.len())];
        (0..self.row_cnt.max(0) as usize)
            .map(|r| columns.iter().map(|c| c.values.get(r).cloned().unwrap_or_default()).collect())
            .collect()
    }
}

impl PackStruct for GenQueryOut {
    const PI_NAME: &'static str = "GenQueryOut_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("rowCnt", self.row_cnt)
            .push_int("attriCnt", self.attri_cnt)
            .push_int("continueInx", self.continue_inx)
            .push_int("totalRowCount", self.total_row_count);
        for r in &self.results {
            el.push_child(r.to_element());
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let results =
            el.children_named(SqlResult::PI_NAME).map(SqlResult::from_element).collect::<Result<_, _>>()?;
        Ok(GenQueryOut {
            row_cnt: el.get_int("rowCnt")?,
            attri_cnt: el.get_int("attriCnt")?,
            continue_inx: el.get_int("continueInx")?,
            total_row_count: el.get_int("totalRowCount")?,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_ignore_the_unused_result_slots_a_real_server_sends() {
        let mut xml = String::from(
            "<GenQueryOut_PI>\n<rowCnt>2</rowCnt>\n<attriCnt>1</attriCnt>\n<continueInx>0</continueInx>\n<totalRowCount>0</totalRowCount>\n\
             <SqlResult_PI>\n<attriInx>403</attriInx>\n<reslen>6</reslen>\n<value>a</value>\n<value>b</value>\n</SqlResult_PI>\n",
        );
        for _ in 1..50 {
            xml.push_str("<SqlResult_PI>\n<attriInx>0</attriInx>\n<reslen>0</reslen>\n</SqlResult_PI>\n");
        }
        xml.push_str("</GenQueryOut_PI>\n\0");
        let out = GenQueryOut::decode(xml.as_bytes()).unwrap();
        assert_eq!(out.results.len(), 50);
        assert_eq!(out.rows(), vec![vec!["a".to_string()], vec!["b".to_string()]]);
    }
}
