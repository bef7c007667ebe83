//! Notification templates: text with `{variable}` placeholders, filled in
//! from the variables a notification carries. A placeholder without a value
//! is an error, never an empty gap in a customer's text.

use std::collections::BTreeMap;

/// The placeholders of `template`, in order (checks the syntax).
pub fn variables(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "a `{` is never closed".to_string())?;
        let name = &after[..close];
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(format!("`{{{name}}}` is not a placeholder (letters, digits, _ and - only)"));
        }
        out.push(name.to_string());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` has no `{`".into());
    }
    Ok(out)
}

/// Fill in `template`.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut text = template.to_string();
    for name in variables(template)? {
        let value = values.get(&name).ok_or_else(|| format!("missing variable `{name}`"))?;
        text = text.replace(&format!("{{{name}}}"), value);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_refuses_gaps() {
        let t = "Hi {name}, order {order-id} is delayed.";
        assert_eq!(variables(t).unwrap(), ["name", "order-id"]);
        let mut v = BTreeMap::new();
        v.insert("name".to_string(), "Ana".to_string());
        assert_eq!(render(t, &v).unwrap_err(), "missing variable `order-id`");
        v.insert("order-id".to_string(), "1042".to_string());
        assert_eq!(render(t, &v).unwrap(), "Hi Ana, order 1042 is delayed.");
        assert!(variables("Hi {name").is_err());
        assert!(variables("Hi {first name}").is_err());
        assert!(variables("oops }").is_err());
    }
}
