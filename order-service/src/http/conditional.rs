//! `ETag` and `If-Match`: an order's entity tag is its version.

use actix_web::HttpRequest;
use actix_web::http::header::IF_MATCH;

use crate::http::ApiError;
use crate::store::IfMatch;

/// The strong entity tag of an order at `version`: `"3"`.
pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The request's `If-Match` condition, if it has one.
pub(crate) fn if_match(request: &HttpRequest) -> Result<Option<IfMatch>, ApiError> {
    let mut versions = Vec::new();
    let mut any = false;
    let mut seen = false;
    for value in request.headers().get_all(IF_MATCH) {
        seen = true;
        let text = value.to_str().map_err(|_| malformed())?;
        for tag in entity_tags(text).ok_or_else(malformed)? {
            match tag {
                Tag::Any => any = true,
                // If-Match compares strongly: a weak tag is well-formed but never matches.
                Tag::Weak => {}
                Tag::Strong(opaque) => versions.extend(opaque.parse::<u64>().ok()),
            }
        }
    }
    Ok(match (seen, any) {
        (false, _) => None,
        (true, true) => Some(IfMatch::Any),
        (true, false) => Some(IfMatch::Versions(versions)),
    })
}

/// One member of an `If-Match` list.
#[derive(Debug, PartialEq, Eq)]
enum Tag<'a> {
    Any,
    Weak,
    Strong(&'a str),
}

/// The members of one `If-Match` field value (RFC 9110, 8.8.3 and 13.1.1): `*`, or entity tags
/// separated by commas, where a comma between an entity tag's quotes belongs to the tag.
/// `None` when the value does not follow that grammar.
fn entity_tags(text: &str) -> Option<Vec<Tag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        // Empty list elements are allowed: `"1", , "2"`.
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let (tag, after) = if let Some(after) = rest.strip_prefix('*') {
            (Tag::Any, after)
        } else {
            let (weak, quoted) = match rest.strip_prefix("W/") {
                Some(quoted) => (true, quoted),
                None => (false, rest),
            };
            let inner = quoted.strip_prefix('"')?;
            let end = inner.find('"')?;
            let opaque = &inner[..end];
            // etagc: any visible character but the double quote (the header is ASCII here).
            if !opaque
                .bytes()
                .all(|byte| byte == 0x21 || (0x23..=0x7e).contains(&byte))
            {
                return None;
            }
            let tag = if weak { Tag::Weak } else { Tag::Strong(opaque) };
            (tag, &inner[end + 1..])
        };
        tags.push(tag);
        rest = after.trim_start_matches([' ', '\t']);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
}

fn malformed() -> ApiError {
    ApiError::BadRequest {
        code: "malformed_if_match",
        message: "If-Match must be `*` or entity tags such as \"3\"".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_inside_an_entity_tag_belongs_to_it() {
        assert_eq!(
            entity_tags(r#""a,b", W/"3" ,"4""#),
            Some(vec![Tag::Strong("a,b"), Tag::Weak, Tag::Strong("4")])
        );
        assert_eq!(entity_tags(" * "), Some(vec![Tag::Any]));
        assert_eq!(
            entity_tags(r#", "1",,"2","#),
            Some(vec![Tag::Strong("1"), Tag::Strong("2")])
        );
        assert_eq!(entity_tags(""), Some(vec![]));
    }

    #[test]
    fn what_is_not_an_entity_tag_is_refused() {
        for text in [
            r#"3"#,
            r#""3"#,
            r#""3" "4""#,
            r#"W/3"#,
            r#""3"x"#,
            "\"a b\"",
            r#"w/"3""#,
        ] {
            assert_eq!(entity_tags(text), None, "{text}");
        }
    }
}
