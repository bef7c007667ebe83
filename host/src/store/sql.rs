//! A statement builder for both engines: like sqlx's `QueryBuilder`, but its
//! placeholders are `$1, $2, …`, which SQLite and PostgreSQL both read
//! (sqlx's builder for the `Any` driver writes `?`, which PostgreSQL does not).

use sqlx::any::{Any, AnyArguments};
use sqlx::{Arguments, Encode, Type};
use std::fmt::Display;

/// A statement being built, with its bound values.
#[derive(Default)]
pub struct Sql {
    text: String,
    args: AnyArguments,
}

impl Sql {
    /// Start with `text`.
    pub fn new(text: impl AsRef<str>) -> Sql {
        Sql { text: text.as_ref().to_string(), args: AnyArguments::default() }
    }

    /// Append SQL text.
    pub fn push(&mut self, text: impl Display) -> &mut Self {
        use std::fmt::Write as _;
        let _ = write!(self.text, "{text}");
        self
    }

    /// Append a placeholder bound to `value`.
    pub fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        // Encoding into `Any` only copies the value; it cannot fail.
        self.args.add(value).expect("binding a value");
        let n = self.args.len();
        self.push(format_args!("${n}"))
    }

    /// Items separated by `separator` (see [`Separated`]).
    pub fn separated(&mut self, separator: &'static str) -> Separated<'_> {
        Separated { sql: self, separator, first: true }
    }

    /// `VALUES (…), (…)`: one parenthesised row per item, filled by `row`.
    pub fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_>, I::Item),
    {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            row(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    /// The statement, ready to run.
    pub fn build(&mut self) -> sqlx::query::Query<'static, Any, AnyArguments> {
        let text = std::mem::take(&mut self.text);
        sqlx::query_with(sqlx::AssertSqlSafe(text), std::mem::take(&mut self.args))
    }

    /// The SQL so far.
    #[cfg(test)]
    pub fn sql(&self) -> &str {
        &self.text
    }
}

/// Pushes with a separator between items.
pub struct Separated<'a> {
    sql: &'a mut Sql,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.sql.push(self.separator);
        }
        self.first = false;
    }

    /// Append SQL text as the next item.
    pub fn push(&mut self, text: impl Display) -> &mut Self {
        self.sep();
        self.sql.push(text);
        self
    }

    /// Append SQL text to the current item (no separator).
    pub fn push_unseparated(&mut self, text: impl Display) -> &mut Self {
        self.sql.push(text);
        self
    }

    /// Append a bound value to the current item (no separator).
    pub fn push_bind_unseparated<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        self.sql.push_bind(value);
        self
    }

    /// Append a bound value as the next item.
    pub fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        self.sep();
        self.sql.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_both_engines() {
        let mut q = Sql::new("INSERT INTO t (a, b) ");
        q.push_values([(1i64, "x"), (2, "y")], |mut row, (a, b)| {
            row.push_bind(a).push("'lit'").push_bind(b);
        });
        q.push(" WHERE c IN (");
        q.separated(", ").push_bind(3i64).push_bind(4i64);
        q.push(")");
        assert_eq!(q.sql(), "INSERT INTO t (a, b) VALUES ($1, 'lit', $2), ($3, 'lit', $4) WHERE c IN ($5, $6)");
    }
}
