//! The template check: every function a template names
//! (`data-liveview-function`, `data-liveview-init`, the intersection
//! attributes, keyboard maps) has a registered handler.

use crate::LiveView;

const NAMING: [&str; 4] = [
    "data-liveview-function",
    "data-liveview-init",
    "data-liveview-intersect-appear",
    "data-liveview-intersect-disappear",
];
const KEYBOARD_MAP: &str = "data-liveview-keyboard-map";

/// A function a template names that no handler is registered under.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownFunction {
    /// The template's name (its path in the template directory).
    pub template: String,
    /// The attribute that names it.
    pub attribute: String,
    /// The function.
    pub function: String,
}

impl std::fmt::Display for UnknownFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "template {} names function {:?} ({}) but no handler is registered under it",
            self.template, self.function, self.attribute
        )
    }
}

/// The quoted values of `attribute` in `source`.
fn values<'a>(source: &'a str, attribute: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(attribute) {
        let after = &rest[at + attribute.len()..];
        rest = after;
        // The whole name: not a prefix of a longer attribute.
        let Some(after) = after.trim_start().strip_prefix('=') else {
            continue;
        };
        let after = after.trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = after[1..].find(quote) {
            found.push(&after[1..=end]);
        }
    }
    found
}

fn is_dynamic(value: &str) -> bool {
    value.contains("{{") || value.contains("{%") || value.trim().is_empty()
}

/// Every (attribute, function) a template's source names, in order;
/// names built by the template (`{{ … }}`) are skipped.
pub(crate) fn functions_in(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for attribute in NAMING {
        for value in values(source, attribute) {
            if !is_dynamic(value) {
                found.push((attribute.to_owned(), value.trim().to_owned()));
            }
        }
    }
    for value in values(source, KEYBOARD_MAP) {
        let json = value.replace("&quot;", "\"").replace("&#34;", "\"");
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&json) {
            for function in map.values().filter_map(|v| v.as_str()) {
                if !is_dynamic(function) {
                    found.push((KEYBOARD_MAP.to_owned(), function.to_owned()));
                }
            }
        }
    }
    found
}

impl LiveView {
    /// The functions the templates name that have no handler: a typo in
    /// `data-liveview-function="serch"` shows here instead of as an
    /// `unknown_function` error in the browser. Looks at the template
    /// directory's files and the templates added with `template_env`;
    /// names a template builds (`{{ … }}`) are not checked. In debug
    /// builds, `build()` logs a warning for each.
    ///
    /// ```
    /// use liveview::LiveView;
    ///
    /// let lv = LiveView::builder()
    ///     .auto_register(false)
    ///     .handler("search", || async { Ok::<_, liveview::Error>(()) })
    ///     .template_env(|env| {
    ///         env.add_template("page.html", r#"<input data-liveview-function="serch">"#).unwrap();
    ///     })
    ///     .build()?;
    /// let unknown = lv.check_templates();
    /// assert_eq!(unknown.len(), 1);
    /// assert_eq!(unknown[0].function, "serch");
    /// assert_eq!(unknown[0].template, "page.html");
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    pub fn check_templates(&self) -> Vec<UnknownFunction> {
        let known = self.handler_names();
        let mut unknown = Vec::new();
        for (template, source) in self.templates().sources() {
            for (attribute, function) in functions_in(&source) {
                if !known.contains(&function.as_str()) {
                    unknown.push(UnknownFunction {
                        template: template.clone(),
                        attribute,
                        function,
                    });
                }
            }
        }
        unknown
    }

    /// Logs a warning per unknown function (debug builds, at start).
    pub(crate) fn warn_unknown_functions(&self) {
        if cfg!(debug_assertions) {
            for unknown in self.check_templates() {
                tracing::warn!("{unknown}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_attribute_that_names_a_function() {
        let source = r#"<button data-liveview-function="save" data-action="click->page#run">
            <div data-liveview-init='load'></div><p data-liveview-function="{{ name }}"></p>
            <div data-liveview-keyboard-map='{"ctrl+k": "open", "?": "help"}'></div>
            <div data-liveview-intersect-appear="more" data-liveview-functionx="no"></div>"#;
        let names: Vec<String> = functions_in(source).into_iter().map(|(_, f)| f).collect();
        assert_eq!(names, ["save", "load", "more", "help", "open"]);
    }
}
