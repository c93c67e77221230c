//! The gate's routes as text, one per line: what the console's "Gate settings" form edits, read
//! the same way in the browser (as the admin types) and in the console (before saving).
//!
//! ```text
//! # <prefix|exact|pattern> <path> [METHODS,comma-separated | *] <none | bearer [scope1,scope2]>
//! prefix /public GET,HEAD none
//! exact /health none
//! pattern /users/*/orders GET bearer orders:read
//! prefix /api * bearer
//! ```
//!
//! Words are separated by spaces or tabs; blank lines and lines starting with `#` are ignored.
//! The path matches as in a policy ([`PathMatch`]: `prefix`, `exact`, `pattern`) and is checked
//! by the same rules ([`validate_path_and_methods`]); the methods are exact and upper-case,
//! `*` or nothing for any method; `none` lets requests through without a token, `bearer` requires
//! a valid access token holding every listed scope (none listed: any valid token). First match
//! wins; a request matching no route is answered 404 by the gate.
//!
//! [`read_route_lines`] gives the routes with every error and warning, each naming its line;
//! [`routes_to_lines`] prints routes back so that reading the text gives the same routes.

use core::fmt;

use crate::bundle::{is_scope, Route, RouteAuth};
use crate::model::PathMatch;
use crate::validate::{normalize_path_and_methods, validate_path_and_methods, Severity};

/// The most routes a gate is given.
pub const MAX_ROUTES: usize = 200;
/// The longest routes text, in bytes.
pub const MAX_ROUTES_TEXT_BYTES: usize = 64 * 1024;

/// One finding about the routes text: on a line (from 1), or about the whole text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIssue {
    pub line: Option<usize>,
    pub message: String,
}

impl LineIssue {
    fn at(line: usize, message: impl Into<String>) -> LineIssue {
        LineIssue {
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "Line {n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What the routes text says: the routes of the lines without errors, in order, with the line
/// each came from; every error (the text must not be saved) and every warning (allowed, but
/// probably not what was meant).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteLines {
    pub routes: Vec<(usize, Route)>,
    pub errors: Vec<LineIssue>,
    pub warnings: Vec<LineIssue>,
}

/// The routes of `text`, or every error. Warnings are dropped: see [`read_route_lines`].
pub fn parse_route_lines(text: &str) -> Result<Vec<Route>, Vec<LineIssue>> {
    let read = read_route_lines(text);
    if read.errors.is_empty() {
        Ok(read.routes.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(read.errors)
    }
}

const SYNTAX: &str = "write “<prefix|exact|pattern> <path> [METHODS | *] <none | bearer [scopes]>”";

/// Reads `text` line by line (see the module documentation). Never fails or panics; a text
/// with no route at all is an error (the gate would answer 404 to everything).
pub fn read_route_lines(text: &str) -> RouteLines {
    let mut out = RouteLines::default();
    if text.len() > MAX_ROUTES_TEXT_BYTES {
        out.errors.push(LineIssue {
            line: None,
            message: format!(
                "The routes are {} bytes long; at most {MAX_ROUTES_TEXT_BYTES}.",
                text.len()
            ),
        });
        return out;
    }
    let mut count = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        if count == MAX_ROUTES + 1 {
            out.errors.push(LineIssue::at(
                n,
                format!("A gate takes at most {MAX_ROUTES} routes; this is one more."),
            ));
        }
        match read_line(line) {
            Err(message) => out.errors.push(LineIssue::at(n, message)),
            Ok(mut route) => {
                let issues = validate_path_and_methods(&route.path, &route.methods);
                let mut bad = false;
                for issue in issues {
                    if issue.severity == Severity::Error {
                        bad = true;
                        out.errors.push(LineIssue::at(n, issue.message));
                    } else {
                        out.warnings.push(LineIssue::at(n, issue.message));
                    }
                }
                if bad {
                    continue;
                }
                normalize_path_and_methods(&mut route.path, &mut route.methods);
                if let Some((m, earlier)) = out
                    .routes
                    .iter()
                    .find(|(_, earlier)| shadows(earlier, &route))
                {
                    out.warnings.push(LineIssue::at(
                        n,
                        format!(
                            "Never used: line {m} (“{}”) comes first and matches every request \
                             this route matches (first match wins).",
                            route_to_line(earlier)
                        ),
                    ));
                }
                out.routes.push((n, route));
            }
        }
    }
    if count == 0 {
        out.errors.push(LineIssue {
            line: None,
            message: "There is no route: the gate would answer 404 to every request. Add one, \
                      such as “prefix / * none”."
                .into(),
        });
    }
    out
}

/// Whether `earlier` matches every request `later` matches, so `later` never decides.
fn shadows(earlier: &Route, later: &Route) -> bool {
    earlier.path.covers(&later.path)
        && (earlier.methods.is_empty()
            || (!later.methods.is_empty()
                && later.methods.iter().all(|m| earlier.methods.contains(m))))
}

/// One non-blank, non-comment line, trimmed; the path and methods are checked by the caller.
fn read_line(line: &str) -> Result<Route, String> {
    let mut words = line.split_whitespace();
    let make: fn(String) -> PathMatch = match words.next().unwrap_or_default() {
        "prefix" => PathMatch::Prefix,
        "exact" => PathMatch::Exact,
        "pattern" => PathMatch::Pattern,
        k if ["prefix", "exact", "pattern"].contains(&k.to_ascii_lowercase().as_str()) => {
            return Err(format!("Write “{}” in lower case.", k.to_ascii_lowercase()))
        }
        k => return Err(format!("“{k}” is not prefix, exact or pattern: {SYNTAX}.")),
    };
    let Some(p) = words.next() else {
        return Err(format!("The path is missing: {SYNTAX}."));
    };
    let path = make(p.to_owned());
    let Some(third) = words.next() else {
        return Err(format!(
            "The authentication is missing: end the line with “none” or “bearer” (and the \
             scopes), {SYNTAX}."
        ));
    };
    let (methods, auth_word) = if is_auth_word(third) {
        (Vec::new(), third)
    } else {
        let methods = read_methods(third)?;
        let Some(auth) = words.next() else {
            return Err(format!(
                "The authentication is missing after “{third}”: end the line with “none” or \
                 “bearer” (and the scopes)."
            ));
        };
        (methods, auth)
    };
    let auth = match auth_word {
        "none" => RouteAuth::None,
        "bearer" => RouteAuth::Bearer {
            scopes: match words.next() {
                None => Vec::new(),
                Some(s) => read_scopes(s)?,
            },
        },
        w if is_auth_word(&w.to_ascii_lowercase()) => {
            return Err(format!("Write “{}” in lower case.", w.to_ascii_lowercase()))
        }
        w => {
            return Err(format!(
                "“{w}” is not an authentication: write “none” or “bearer” followed by the \
                 scopes, if any."
            ))
        }
    };
    if let Some(extra) = words.next() {
        return Err(match auth {
            RouteAuth::Bearer { .. } => format!(
                "“{extra}” follows the scopes: separate scopes with commas, without spaces \
                 (“bearer read,write”)."
            ),
            RouteAuth::None => format!("“{extra}” follows “none”, which ends the line."),
        });
    }
    Ok(Route {
        path,
        methods,
        auth,
    })
}

fn is_auth_word(w: &str) -> bool {
    w == "none" || w == "bearer"
}

fn read_methods(word: &str) -> Result<Vec<String>, String> {
    if word == "*" {
        return Ok(Vec::new());
    }
    let methods: Vec<String> = word.split(',').map(str::to_owned).collect();
    if methods.iter().any(|m| m == "*") {
        return Err(format!(
            "“*” means any method and cannot be listed with others (“{word}”)."
        ));
    }
    Ok(methods)
}

fn read_scopes(word: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in word.split(',') {
        if s.is_empty() {
            return Err(format!(
                "“{word}” has an empty scope: separate scopes with single commas."
            ));
        }
        if !is_scope(s) {
            return Err(format!(
                "“{s}” is not a scope: printable ASCII without spaces, “\"” or “\\” (RFC 6749 \
                 §3.3)."
            ));
        }
        if !scopes.iter().any(|o| o == s) {
            scopes.push(s.to_owned());
        }
    }
    Ok(scopes)
}

/// One route as a line of [`read_route_lines`]'s format: the methods always written (`*` for
/// any), scopes after `bearer` only when there are some.
pub fn route_to_line(r: &Route) -> String {
    let (kind, path) = match &r.path {
        PathMatch::Prefix(p) => ("prefix", p),
        PathMatch::Exact(p) => ("exact", p),
        PathMatch::Pattern(p) => ("pattern", p),
    };
    let methods = if r.methods.is_empty() {
        "*".to_owned()
    } else {
        r.methods.join(",")
    };
    let auth = match &r.auth {
        RouteAuth::None => "none".to_owned(),
        RouteAuth::Bearer { scopes } if scopes.is_empty() => "bearer".to_owned(),
        RouteAuth::Bearer { scopes } => format!("bearer {}", scopes.join(",")),
    };
    format!("{kind} {path} {methods} {auth}")
}

/// Routes as text, one line each ([`route_to_line`]); [`parse_route_lines`] reads back the same
/// routes from it.
pub fn routes_to_lines(routes: &[Route]) -> String {
    routes
        .iter()
        .map(route_to_line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: PathMatch, methods: &[&str], auth: RouteAuth) -> Route {
        Route {
            path,
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            auth,
        }
    }

    fn bearer(scopes: &[&str]) -> RouteAuth {
        RouteAuth::Bearer {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The errors of `text`, as displayed.
    fn errors(text: &str) -> Vec<String> {
        match parse_route_lines(text) {
            Ok(r) => panic!("{text:?} was accepted: {r:?}"),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn refused(text: &str, needle: &str) {
        let e = errors(text);
        assert!(
            e.iter().any(|m| m.contains(needle)),
            "{text:?}: {needle:?} not in {e:?}"
        );
    }

    #[test]
    fn reads_every_form() {
        let text = "\
# public first
prefix /public GET none

exact /health * none
  pattern /users/*/orders GET,POST bearer orders:read,orders:write
prefix /api\t*\tbearer read:items
prefix / bearer
";
        let routes = parse_route_lines(text).expect("valid");
        assert_eq!(
            routes,
            vec![
                route(
                    PathMatch::Prefix("/public".into()),
                    &["GET"],
                    RouteAuth::None
                ),
                route(PathMatch::Exact("/health".into()), &[], RouteAuth::None),
                route(
                    PathMatch::Pattern("/users/*/orders".into()),
                    &["GET", "POST"],
                    bearer(&["orders:read", "orders:write"])
                ),
                route(
                    PathMatch::Prefix("/api".into()),
                    &[],
                    bearer(&["read:items"])
                ),
                route(PathMatch::Prefix("/".into()), &[], bearer(&[])),
            ]
        );
        let read = read_route_lines(text);
        let lines: Vec<usize> = read.routes.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![2, 4, 5, 6, 7]);
        assert_eq!(read.warnings, Vec::<LineIssue>::new());
    }

    #[test]
    fn printing_round_trips() {
        let routes = vec![
            route(
                PathMatch::Prefix("/public".into()),
                &["GET"],
                RouteAuth::None,
            ),
            route(PathMatch::Exact("/health".into()), &[], RouteAuth::None),
            route(
                PathMatch::Pattern("/v1/**".into()),
                &["GET", "HEAD"],
                bearer(&["a", "b:c"]),
            ),
            route(PathMatch::Prefix("/".into()), &[], bearer(&[])),
        ];
        let text = routes_to_lines(&routes);
        assert_eq!(
            text,
            "prefix /public GET none\nexact /health * none\npattern /v1/** GET,HEAD bearer a,b:c\nprefix / * bearer"
        );
        assert_eq!(parse_route_lines(&text), Ok(routes.clone()));
        // And the text a reader gets back is the canonical one.
        let messy = "prefix  /public GET none\n\n# c\nexact /health none\npattern /v1/** GET,HEAD,GET bearer a,b:c,a\nprefix / bearer";
        let back = parse_route_lines(messy).expect("valid");
        assert_eq!(back, routes);
        assert_eq!(routes_to_lines(&back), text);
        // The defaults.
        let one = vec![route(PathMatch::Prefix("/".into()), &[], RouteAuth::None)];
        assert_eq!(routes_to_lines(&one), "prefix / * none");
        assert_eq!(parse_route_lines("prefix / * none"), Ok(one));
    }

    #[test]
    fn each_error_names_its_line() {
        refused("", "There is no route");
        refused("# only a comment\n\n", "There is no route");
        refused(
            "prefix / * none\nroute /api * none",
            "Line 2: “route” is not prefix",
        );
        refused("PREFIX / * none", "Line 1: Write “prefix” in lower case");
        refused("prefix", "Line 1: The path is missing");
        refused("nope", "Line 1: “nope” is not prefix");
        refused("exact /health", "Line 1: The authentication is missing");
        refused("exact /health GET", "after “GET”");
        refused("prefix api * none", "Line 1: The path must start with “/”");
        refused("\n\nprefix /a?b * none", "Line 3: The path contains “?”");
        refused("pattern /v*/x * none", "mixes “*”");
        refused(
            "prefix / get none",
            "Line 1: “get”: methods are case-sensitive",
        );
        refused("prefix / GET,,POST none", "The method is empty");
        refused("prefix / GET,* none", "“*” means any method");
        refused("prefix / * token", "“token” is not an authentication");
        refused("prefix / * Bearer", "Write “bearer” in lower case");
        refused("prefix / * none extra", "follows “none”");
        refused("prefix / * bearer read write", "“write” follows the scopes");
        refused("prefix / * bearer read,,write", "empty scope");
        refused("prefix / * bearer a\"b", "is not a scope");
        // Every bad line is reported, each with its number.
        let e = errors("prefix / get none\nexact /ok * none\nprefix x * none");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("Line 1: "), "{e:?}");
        assert!(e[1].starts_with("Line 3: "), "{e:?}");
        // Limits.
        let many = "prefix / * none\n".repeat(MAX_ROUTES + 1);
        refused(
            &many,
            &format!("Line {}: A gate takes at most", MAX_ROUTES + 1),
        );
        let long = "#".repeat(MAX_ROUTES_TEXT_BYTES + 1);
        refused(&long, "bytes long");
    }

    #[test]
    fn warnings_do_not_block() {
        let read = read_route_lines(
            "prefix /api * bearer\nprefix /api/v1 GET none\nprefix /%7Euser FETCH none",
        );
        assert_eq!(read.errors, Vec::<LineIssue>::new());
        assert_eq!(read.routes.len(), 3);
        let w: Vec<String> = read.warnings.iter().map(ToString::to_string).collect();
        assert!(
            w.iter()
                .any(|m| m.starts_with("Line 2: Never used: line 1 (“prefix /api * bearer”)")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.starts_with("Line 3: ") && m.contains("FETCH")),
            "{w:?}"
        );
        // Percent-encoded unreserved characters are decoded, as the warning says.
        assert_eq!(read.routes[2].1.path, PathMatch::Prefix("/~user".into()));
        // A narrower route first shadows nothing.
        let read = read_route_lines("prefix /api/v1 GET none\nprefix /api * bearer");
        assert_eq!(read.warnings, Vec::<LineIssue>::new());
        // Methods: a route for GET does not shadow one for any method.
        let read = read_route_lines("prefix / GET none\nprefix /api * bearer");
        assert_eq!(read.warnings, Vec::<LineIssue>::new());
    }
}
