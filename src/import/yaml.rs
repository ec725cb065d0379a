//! A YAML (or JSON) document as a tree whose every node knows its line, for the Envoy
//! importer. Parsing is `saphyr-parser`'s (YAML 1.2, of which JSON is a subset); this
//! module builds the tree from its events with an explicit stack, so that nesting depth,
//! alias expansion and duplicate keys are bounded and reported at their line instead of
//! overflowing the stack or the memory.
//!
//! Nodes tagged `!ignore` (Envoy's tag for YAML snippets kept only for anchors) are left
//! out of the tree, as Envoy's loader leaves them out.

use std::collections::BTreeSet;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::{ImportError, Loc};

/// Deepest nesting accepted (Envoy bootstraps nest about 15 levels).
const MAX_DEPTH: usize = 200;
/// Most nodes a document may expand to, aliases counted at every use.
const MAX_NODES: usize = 2_000_000;

/// A YAML node with its place.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// What it is.
    pub kind: Kind,
    /// Where it starts.
    pub at: Loc,
}

/// The three kinds of YAML node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// A scalar's text, and whether it was written plain (unquoted), which decides
    /// whether `null`, `~` and the empty text mean null.
    Scalar(String, bool),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping: keys (scalars, as text) with their places, and values, in file order.
    Map(Vec<(String, Loc, Node)>),
}

impl Node {
    /// The value of key `k` of a mapping.
    pub fn get(&self, k: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(m) => m.iter().find(|(kk, _, _)| kk == k).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// The entries of a mapping (none for other nodes).
    pub fn entries(&self) -> &[(String, Loc, Node)] {
        match &self.kind {
            Kind::Map(m) => m,
            _ => &[],
        }
    }

    /// The items of a sequence (none for other nodes).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(s) => s,
            _ => &[],
        }
    }

    /// A scalar's text.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// A plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, true) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, for messages.
    pub fn what(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// An open collection while its events arrive.
enum Frame {
    Seq {
        at: Loc,
        anchor: usize,
        ignore: bool,
        items: Vec<Node>,
    },
    Map {
        at: Loc,
        anchor: usize,
        ignore: bool,
        entries: Vec<(String, Loc, Node)>,
        seen: BTreeSet<String>,
        /// The key read, waiting for its value (None: an ignored key).
        key: Option<Option<(String, Loc)>>,
    },
}

fn loc(file: &str, span: &Span) -> Loc {
    Loc {
        file: file.to_string(),
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

fn scan_error(file: &str, e: &ScanError) -> ImportError {
    let m = e.marker();
    ImportError::at(
        &Loc {
            file: file.to_string(),
            line: m.line(),
            col: m.col() + 1,
        },
        format!("not valid YAML or JSON: {}", e.info()),
    )
}

fn count(n: &Node) -> usize {
    1 + match &n.kind {
        Kind::Scalar(..) => 0,
        Kind::Seq(s) => s.iter().map(count).sum(),
        Kind::Map(m) => m.iter().map(|(_, _, v)| count(v)).sum(),
    }
}

/// Parses `text` (YAML or JSON) into one document's tree. `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Node, ImportError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<Option<Node>> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs = 0usize;
    let mut nodes = 0usize;
    let err = |span: &Span, m: String| ImportError::at(&loc(file, span), m);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| scan_error(file, &e))?;
        // A finished node (with its anchor and whether it is ignored), to place in its
        // parent.
        let done: Option<(Node, usize, bool)> = match ev {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(err(
                        &span,
                        "a second YAML document: lblab reads one document (one Envoy configuration) per file".into(),
                    ));
                }
                None
            }
            Event::Scalar(v, style, anchor, tag) => {
                nodes += 1;
                let ignore = tag.as_ref().is_some_and(|t| t.suffix == "ignore");
                Some((
                    Node {
                        kind: Kind::Scalar(v.into_owned(), style == ScalarStyle::Plain),
                        at: loc(file, &span),
                    },
                    anchor,
                    ignore,
                ))
            }
            Event::Alias(id) => {
                let n =
                    anchors.get(id).cloned().flatten().ok_or_else(|| {
                        err(&span, "an alias to an anchor not yet defined".into())
                    })?;
                nodes += count(&n);
                if nodes > MAX_NODES {
                    return Err(err(
                        &span,
                        format!("aliases expand the document past {MAX_NODES} nodes"),
                    ));
                }
                Some((n, 0, false))
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        &span,
                        format!("nested more than {MAX_DEPTH} levels deep"),
                    ));
                }
                nodes += 1;
                let ignore = tag.as_ref().is_some_and(|t| t.suffix == "ignore");
                let at = loc(file, &span);
                stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        at,
                        anchor,
                        ignore,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        at,
                        anchor,
                        ignore,
                        entries: Vec::new(),
                        seen: BTreeSet::new(),
                        key: None,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    at,
                    anchor,
                    ignore,
                    items,
                }) => Some((
                    Node {
                        kind: Kind::Seq(items),
                        at,
                    },
                    anchor,
                    ignore,
                )),
                Some(Frame::Map {
                    at,
                    anchor,
                    ignore,
                    entries,
                    ..
                }) => Some((
                    Node {
                        kind: Kind::Map(entries),
                        at,
                    },
                    anchor,
                    ignore,
                )),
                None => None,
            },
        };
        if nodes > MAX_NODES {
            return Err(err(
                &span,
                format!("more than {MAX_NODES} nodes in the document"),
            ));
        }
        let Some((node, anchor, ignore)) = done else {
            continue;
        };
        if anchor > 0 {
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, None);
            }
            anchors[anchor] = Some(node.clone());
        }
        match stack.last_mut() {
            None => {
                if !ignore {
                    root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => {
                if !ignore {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                entries, seen, key, ..
            }) => match key.take() {
                None => {
                    // A key.
                    let Kind::Scalar(k, _) = &node.kind else {
                        return Err(ImportError::at(
                            &node.at,
                            "a mapping key that is not a scalar (Envoy keys are field names)",
                        ));
                    };
                    if k == "<<" && node.text().is_some() {
                        return Err(ImportError::at(
                            &node.at,
                            "a YAML merge key (`<<`): Envoy's YAML reader does not merge and \
                             refuses `<<` as an unknown field (envoyproxy/envoy#12926); \
                             use the anchor as a whole value instead",
                        ));
                    }
                    if ignore {
                        *key = Some(None);
                    } else {
                        if !seen.insert(k.clone()) {
                            return Err(ImportError::at(
                                &node.at,
                                format!("key \"{k}\" appears twice in this mapping"),
                            ));
                        }
                        *key = Some(Some((k.clone(), node.at)));
                    }
                }
                Some(None) => {}
                Some(Some((k, at))) => {
                    if !ignore {
                        entries.push((k, at, node));
                    }
                }
            },
        }
    }
    root.ok_or_else(|| ImportError::whole(file, "no configuration: the file is empty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_give_the_same_tree_shape_with_lines() {
        let y = parse(
            "a.yaml",
            "name: web\nlb_policy: MAGLEV\nports:\n  - 80\n  - '81'\n",
        )
        .unwrap();
        assert_eq!(y.get("name").and_then(Node::text), Some("web"));
        assert_eq!(y.get("ports").unwrap().items().len(), 2);
        assert_eq!(y.get("ports").unwrap().items()[1].at.line, 5);
        let j = parse(
            "a.json",
            "{\"name\": \"web\",\n \"lb_policy\": \"MAGLEV\", \"ports\": [80, \"81\"]}",
        )
        .unwrap();
        assert_eq!(j.get("lb_policy").unwrap().at.line, 2);
        assert_eq!(j.get("ports").unwrap().items().len(), 2);
    }

    #[test]
    fn anchors_expand_and_ignore_tags_drop_nodes() {
        let t = "snippets: !ignore\n  hc: &hc {interval: 5s}\nhealth: *hc\nnull_one: ~\n";
        let n = parse("a.yaml", t).unwrap();
        assert!(n.get("snippets").is_none());
        assert_eq!(
            n.get("health")
                .and_then(|h| h.get("interval"))
                .and_then(Node::text),
            Some("5s")
        );
        assert!(n.get("null_one").unwrap().is_null());
        assert!(
            !parse("a.yaml", "x: 'null'\n")
                .unwrap()
                .get("x")
                .unwrap()
                .is_null()
        );
    }

    #[test]
    fn hostile_documents_are_refused_at_their_line() {
        let dup = parse("a.yaml", "name: a\nname: b\n").unwrap_err();
        assert_eq!((dup.line, dup.message.contains("twice")), (Some(2), true));
        let deep = "[".repeat(500);
        let e = parse("a.yaml", &deep).unwrap_err();
        // saphyr's own limit or ours, whichever comes first, with the place.
        assert!(
            e.message.contains("nested") || e.message.contains("recursion limit"),
            "{e}"
        );
        assert_eq!(e.line, Some(1));
        // The "billion laughs": each level doubles the one before.
        let mut bomb = String::from("a0: &a0 [x, x]\n");
        for i in 1..40 {
            bomb.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
        }
        let e = parse("a.yaml", &bomb).unwrap_err();
        assert!(e.message.contains("expand"), "{e}");
        let e = parse("a.yaml", "a: [1, 2\n").unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        let e = parse("a.yaml", "d: &d {a: 1}\nx:\n  <<: *d\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("merge key")), (Some(3), true));
        let e = parse("a.yaml", "a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(parse("a.yaml", "").is_err());
    }
}
