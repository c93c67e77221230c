//! What an audit event changed, field by field: the `before` and `after` objects of its details
//! flattened to dotted field paths and paired up, and the rest of the details as context.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One field of an event's `before`/`after`: absent on one side when it was added or removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path inside the object (`limit.burst`, `redirect_uris[0]`); `value` when the
    /// before/after are plain values rather than objects.
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FieldChange {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// An event's details read as a change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Every field of `before` and `after`, in the order `before` lists them, then the fields
    /// only `after` has. Empty when the event records no before/after.
    pub fields: Vec<FieldChange>,
    /// The other details (what was acted on, counts, reasons), flattened the same way.
    pub context: Vec<(String, String)>,
}

/// Reads an event's canonical details JSON. Text that is not a JSON object (never written by
/// the console, but a database row could hold anything) comes back whole as one context entry.
pub fn changes(details: &str) -> Changes {
    let object = match serde_json::from_str::<Value>(details) {
        Ok(Value::Object(object)) => object,
        Ok(Value::Null) | Err(_) if details.trim().is_empty() => return Changes::default(),
        _ => {
            return Changes {
                fields: Vec::new(),
                context: vec![("details".to_owned(), details.to_owned())],
            }
        }
    };
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut context = Vec::new();
    for (key, value) in &object {
        match key.as_str() {
            "before" => flatten("", value, &mut before),
            "after" => flatten("", value, &mut after),
            _ => flatten(key, value, &mut context),
        }
    }
    Changes {
        fields: pair(before, after),
        context,
    }
}

/// Pairs the flattened sides by field, keeping `before`'s order and appending what only
/// `after` has.
fn pair(before: Vec<(String, String)>, after: Vec<(String, String)>) -> Vec<FieldChange> {
    // Linear in the number of fields: a pin set or a client can list hundreds of entries.
    let mut after_by_field: HashMap<String, String> = HashMap::with_capacity(after.len());
    let mut after_order = Vec::with_capacity(after.len());
    for (field, value) in after {
        after_order.push(field.clone());
        after_by_field.insert(field, value);
    }
    let mut fields: Vec<FieldChange> = before
        .into_iter()
        .map(|(field, old)| FieldChange {
            after: after_by_field.remove(&field),
            before: Some(old),
            field,
        })
        .collect();
    fields.extend(after_order.into_iter().filter_map(|field| {
        let new = after_by_field.remove(&field)?;
        Some(FieldChange {
            field,
            before: None,
            after: Some(new),
        })
    }));
    fields
}

/// Scalars become one entry each (strings unquoted); objects and arrays are walked, an empty
/// one kept as `{}` / `[]` so that "emptied" shows.
fn flatten(path: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let name = |path: &str| {
        if path.is_empty() {
            "value".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => walk_object(path, map, out),
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{}[{i}]", name(path)), item, out);
            }
        }
        Value::String(s) => out.push((name(path), s.clone())),
        other => out.push((name(path), other.to_string())),
    }
}

fn walk_object(path: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in map {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        flatten(&child, value, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(field: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
        FieldChange {
            field: field.into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }

    #[test]
    fn objects_pair_by_field_with_added_and_removed_ones() {
        let c = changes(
            r#"{"after":{"burst":40,"name":"login","new":true,"window":{"s":60}},
                "before":{"burst":20,"name":"login","old":"x","window":{"s":30}},"policy":"p1"}"#,
        );
        assert_eq!(
            c.fields,
            vec![
                change("burst", Some("20"), Some("40")),
                change("name", Some("login"), Some("login")),
                change("old", Some("x"), None),
                change("window.s", Some("30"), Some("60")),
                change("new", None, Some("true")),
            ]
        );
        assert_eq!(
            c.fields.iter().filter(|f| f.changed()).count(),
            4,
            "an unchanged field is not a change"
        );
        assert_eq!(c.context, vec![("policy".to_owned(), "p1".to_owned())]);
    }

    #[test]
    fn scalars_arrays_and_nulls() {
        let c = changes(r#"{"after":2,"before":1,"direction":"up"}"#);
        assert_eq!(c.fields, vec![change("value", Some("1"), Some("2"))]);
        let c =
            changes(r#"{"after":{"uris":["a","c"]},"before":{"note":null,"uris":["a","b","x"]}}"#);
        assert_eq!(
            c.fields,
            vec![
                change("note", Some("null"), None),
                change("uris[0]", Some("a"), Some("a")),
                change("uris[1]", Some("b"), Some("c")),
                change("uris[2]", Some("x"), None),
            ]
        );
        let c = changes(r#"{"after":{"scopes":[]},"before":{"scopes":["read"]}}"#);
        assert_eq!(
            c.fields,
            vec![
                change("scopes[0]", Some("read"), None),
                change("scopes", None, Some("[]")),
            ]
        );
    }

    #[test]
    fn a_deletion_has_only_a_before_and_plain_details_only_context() {
        let c = changes(r#"{"before":{"name":"ios"}}"#);
        assert_eq!(c.fields, vec![change("name", Some("ios"), None)]);
        let c = changes(r#"{"ip":"10.0.0.1","reason":{"code":7}}"#);
        assert!(c.fields.is_empty());
        assert_eq!(
            c.context,
            vec![
                ("ip".to_owned(), "10.0.0.1".to_owned()),
                ("reason.code".to_owned(), "7".to_owned())
            ]
        );
    }

    #[test]
    fn text_that_is_not_an_object_is_kept_whole() {
        assert_eq!(changes(""), Changes::default());
        assert_eq!(changes("{}"), Changes::default());
        for odd in ["[1,2]", "not json", "\"s\""] {
            assert_eq!(
                changes(odd).context,
                vec![("details".to_owned(), odd.to_owned())],
                "{odd}"
            );
        }
    }
}
