//! A CSV file of the results directory as a header and located records, and typed,
//! located access to one record's cells.

use super::LoadError;

/// A parsed CSV file: header and records with their line numbers.
pub(super) struct Table<'a> {
    pub(super) file: &'a str,
    pub(super) header: Vec<String>,
    records: Vec<(u64, csv::StringRecord)>,
}

/// A cursor on one record, for typed access with located errors.
pub(super) struct Row<'t> {
    file: &'t str,
    line: u64,
    header: &'t [String],
    rec: &'t csv::StringRecord,
}

impl Row<'_> {
    pub(super) fn err(&self, message: String) -> LoadError {
        LoadError {
            file: self.file.into(),
            line: Some(self.line),
            message,
        }
    }

    pub(super) fn text(&self, i: usize) -> String {
        self.rec.get(i).unwrap_or("").trim().to_string()
    }

    /// A number; an empty cell is NaN.
    pub(super) fn num(&self, i: usize) -> Result<f64, LoadError> {
        let t = self.rec.get(i).unwrap_or("").trim();
        if t.is_empty() {
            return Ok(f64::NAN);
        }
        t.parse::<f64>()
            .map_err(|_| self.err(format!("column {}: `{t}` is not a number", self.header[i])))
    }

    /// A non-negative integer; empty is `None`.
    pub(super) fn opt_int(&self, i: usize) -> Result<Option<u32>, LoadError> {
        let t = self.rec.get(i).unwrap_or("").trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u32>().map(Some).map_err(|_| {
            self.err(format!(
                "column {}: `{t}` is not a non-negative integer",
                self.header[i]
            ))
        })
    }

    pub(super) fn int(&self, i: usize) -> Result<u32, LoadError> {
        self.opt_int(i)?
            .ok_or_else(|| self.err(format!("column {}: empty", self.header[i])))
    }

    pub(super) fn bool(&self, i: usize) -> Result<bool, LoadError> {
        match self.rec.get(i).unwrap_or("").trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            t => Err(self.err(format!(
                "column {}: `{t}` is not true or false",
                self.header[i]
            ))),
        }
    }
}

impl<'a> Table<'a> {
    pub(super) fn parse(file: &'a str, text: &str) -> Result<Table<'a>, LoadError> {
        let loc = |e: csv::Error| LoadError {
            file: file.into(),
            line: e.position().map(|p| p.line()),
            message: match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields where the header has {expected_len}"),
                _ => e.to_string(),
            },
        };
        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = rdr
            .headers()
            .map_err(loc)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(LoadError {
                file: file.into(),
                line: Some(1),
                message: "empty file: no header".into(),
            });
        }
        let mut records = Vec::new();
        for r in rdr.records() {
            let r = r.map_err(loc)?;
            let line = r.position().map_or(0, |p| p.line());
            records.push((line, r));
        }
        Ok(Table {
            file,
            header,
            records,
        })
    }

    /// Index of a required column.
    pub(super) fn col(&self, name: &str) -> Result<usize, LoadError> {
        // Rows belong to a variant: `variant` where the file has it (the algorithm alone
        // does not tell two values of an --axis key apart), `algorithm` in older files.
        if name == "algorithm"
            && let Some(i) = self.header.iter().position(|h| h == "variant")
        {
            return Ok(i);
        }
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LoadError {
                file: self.file.into(),
                line: Some(1),
                message: format!("missing column `{name}`"),
            })
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(|(line, rec)| Row {
            file: self.file,
            line: *line,
            header: &self.header,
            rec,
        })
    }
}
