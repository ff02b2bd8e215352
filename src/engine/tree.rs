//! A small buffered tree: the nodes the streaming engine keeps while a selected element is open,
//! for [`crate::engine::eval`] to evaluate XPath expressions on.
//!
//! The streaming engine opens the selected element's ancestors first, as stubs (name and
//! attributes only, each the only child of the previous), then feeds the element's subtree as it
//! is scanned: elements with their attributes, text, comments and processing instructions. Nodes
//! are stored in document order in one `Vec`, attributes right after their element, so a node's
//! id is its position in document order and an element's subtree is the range of ids up to its
//! `end`. Names and text share one `String`. [`Tree::clear`] keeps both allocations, so a tree
//! reused for every selected element stops allocating once it has grown to the largest.

/// A node of a [`Tree`]: its index in document order. The document node is [`Tree::ROOT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's position in document order, from 0 for the document node.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a node is (XPath 1.0 section 5; namespace nodes are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// The document node, the root of every tree.
    Document,
    /// An element.
    Element,
    /// An attribute of the element before it.
    Attribute,
    /// Text: adjacent text is one node.
    Text,
    /// A comment.
    Comment,
    /// A processing instruction.
    ProcessingInstruction,
}

/// No parent (the document node), or an element that is still open (as `end`).
const NONE: u32 = u32::MAX;

/// `raw_len` when the name as written is the local name (no prefix): it is not stored twice.
const RAW_IS_LOCAL: u32 = u32::MAX;

/// One node: its kind, parent, the end of its subtree and where its strings are in the buffer
/// (namespace URI, local name, name as written and value, one after the other from `start`).
#[derive(Debug, Clone)]
struct Node {
    kind: NodeKind,
    parent: u32,
    end: u32,
    start: usize,
    ns_len: u32,
    local_len: u32,
    raw_len: u32,
    value_len: usize,
}

/// A compact, reusable arena of nodes in document order; see the module documentation.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    strings: String,
    open: Vec<u32>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

/// The length of a name as stored: names longer than 4 GiB do not come out of the scanner,
/// whose names are bounded, so saturating loses nothing real.
fn name_len(s: &str) -> u32 {
    u32::try_from(s.len()).unwrap_or(NONE - 1)
}

impl Tree {
    /// The document node.
    pub const ROOT: NodeId = NodeId(0);

    /// An empty tree: only the document node.
    pub fn new() -> Tree {
        let mut tree = Tree {
            nodes: Vec::new(),
            strings: String::new(),
            open: Vec::new(),
        };
        tree.clear();
        tree
    }

    /// Empties the tree back to its document node, keeping the memory for the next use.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.strings.clear();
        self.open.clear();
        self.nodes.push(Node {
            kind: NodeKind::Document,
            parent: NONE,
            end: NONE,
            start: 0,
            ns_len: 0,
            local_len: 0,
            raw_len: 0,
            value_len: 0,
        });
    }

    /// The id the next node gets. Ids are `u32`: a tree of four billion nodes would need over
    /// 150 GiB, long past any buffer the streaming engine allows.
    fn next_id(&self) -> u32 {
        u32::try_from(self.nodes.len()).unwrap_or(NONE - 1)
    }

    /// The open element, or the document node.
    fn current(&self) -> u32 {
        self.open.last().copied().unwrap_or(0)
    }

    /// Appends a node whose strings are `ns`, `local`, `raw` and `value`.
    fn push(&mut self, kind: NodeKind, ns: &str, local: &str, raw: &str, value: &str) -> u32 {
        let id = self.next_id();
        let start = self.strings.len();
        self.strings.push_str(ns);
        self.strings.push_str(local);
        let raw_len = if raw == local {
            RAW_IS_LOCAL
        } else {
            self.strings.push_str(raw);
            name_len(raw)
        };
        self.strings.push_str(value);
        let end = if kind == NodeKind::Element {
            NONE
        } else {
            id + 1
        };
        self.nodes.push(Node {
            kind,
            parent: self.current(),
            end,
            start,
            ns_len: name_len(ns),
            local_len: name_len(local),
            raw_len,
            value_len: value.len(),
        });
        id
    }

    /// Opens an element as the last child of the open element (or of the document node).
    /// `raw` is the name as written (for `name()`), `ns`/`local` the expanded name; attributes as
    /// (ns, local, raw name, value with references expanded); namespace declarations excluded.
    pub fn open<'a>(
        &mut self,
        ns: Option<&str>,
        local: &str,
        raw: &str,
        attributes: impl IntoIterator<Item = (Option<&'a str>, &'a str, &'a str, &'a str)>,
    ) -> NodeId {
        let id = self.push(NodeKind::Element, ns.unwrap_or(""), local, raw, "");
        self.open.push(id);
        for (ns, local, raw, value) in attributes {
            self.push(NodeKind::Attribute, ns.unwrap_or(""), local, raw, value);
        }
        NodeId(id)
    }

    /// Adds text to the open element; text right after text joins it, so adjacent text (around
    /// a CDATA section, say) is one node, as XPath sees it. Empty text that joins nothing is
    /// an empty text node: the scan hands on `<![CDATA[]]>` so, and libxml2 and the DOM engine
    /// count it.
    pub fn text(&mut self, text: &str) {
        let current = self.current();
        if let Some(last) = self.nodes.last_mut()
            && last.kind == NodeKind::Text
            && last.parent == current
        {
            // The last node's value ends the buffer: nothing was stored after it.
            self.strings.push_str(text);
            last.value_len += text.len();
            return;
        }
        self.push(NodeKind::Text, "", "", "", text);
    }

    /// Adds a comment to the open element.
    pub fn comment(&mut self, text: &str) {
        self.push(NodeKind::Comment, "", "", "", text);
    }

    /// Adds a processing instruction to the open element: its target is its name, its value
    /// the rest.
    pub fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
        self.push(
            NodeKind::ProcessingInstruction,
            "",
            target,
            target,
            value.unwrap_or(""),
        );
    }

    /// Closes the open element. Closing with none open does nothing.
    pub fn close(&mut self) {
        if let Some(id) = self.open.pop() {
            let end = self.next_id();
            if let Some(node) = self.nodes.get_mut(id as usize) {
                node.end = end;
            }
        }
    }

    /// Drops `node` and every node after it, closing what was open among them, so that a
    /// finished subtree's memory is reused for the next one. The document node stays.
    pub fn truncate_to(&mut self, node: NodeId) {
        let keep = node.0.max(1);
        let Some(first) = self.nodes.get(keep as usize) else {
            return;
        };
        self.strings.truncate(first.start);
        self.nodes.truncate(keep as usize);
        while self.open.last().is_some_and(|&open| open >= keep) {
            self.open.pop();
        }
    }

    /// The memory the tree's nodes and strings take, in bytes.
    pub fn memory(&self) -> usize {
        self.nodes.len() * std::mem::size_of::<Node>() + self.strings.len()
    }

    /// How many nodes the tree holds, the document node included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree holds only its document node.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// The node with index `index`, if there is one.
    pub fn node(&self, index: usize) -> Option<NodeId> {
        let id = u32::try_from(index).ok()?;
        (index < self.nodes.len()).then_some(NodeId(id))
    }

    fn get(&self, node: NodeId) -> Option<&Node> {
        self.nodes.get(node.index())
    }

    /// What `node` is; a node not in the tree reads as the document node.
    pub fn kind(&self, node: NodeId) -> NodeKind {
        self.get(node).map_or(NodeKind::Document, |n| n.kind)
    }

    /// The parent of `node`: its element for an attribute, none for the document node.
    pub fn parent(&self, node: NodeId) -> Option<NodeId> {
        self.get(node)
            .filter(|n| n.parent != NONE)
            .map(|n| NodeId(n.parent))
    }

    /// The id after the last node of `node`'s subtree (its attributes included); for an element
    /// still open, the end of the tree.
    pub fn end(&self, node: NodeId) -> NodeId {
        let len = self.next_id();
        NodeId(self.get(node).map_or(len, |n| n.end.min(len)))
    }

    fn string(&self, start: usize, len: usize) -> &str {
        self.strings.get(start..start + len).unwrap_or_default()
    }

    /// The namespace URI of an element's or attribute's name, `None` when it has none.
    pub fn namespace_uri(&self, node: NodeId) -> Option<&str> {
        let n = self.get(node)?;
        let ns = self.string(n.start, n.ns_len as usize);
        (!ns.is_empty()).then_some(ns)
    }

    /// The local part of an element's or attribute's name, the target of a processing
    /// instruction, or empty.
    pub fn local_name(&self, node: NodeId) -> &str {
        self.get(node).map_or("", |n| {
            self.string(n.start + n.ns_len as usize, n.local_len as usize)
        })
    }

    /// Whether `node` is of `kind` and has the expanded name `ns`, `local`: a name test, with
    /// the node read once and lengths compared before bytes.
    pub fn has_name(&self, node: NodeId, kind: NodeKind, ns: Option<&str>, local: &str) -> bool {
        let Some(n) = self.get(node) else {
            return false;
        };
        let ns = ns.unwrap_or("");
        n.kind == kind
            && n.local_len as usize == local.len()
            && n.ns_len as usize == ns.len()
            && self.strings.as_bytes().get(n.start..n.start + ns.len()) == Some(ns.as_bytes())
            && self
                .strings
                .as_bytes()
                .get(n.start + ns.len()..n.start + ns.len() + local.len())
                == Some(local.as_bytes())
    }

    /// The name as written (`s:row`), the target of a processing instruction, or empty.
    pub fn name(&self, node: NodeId) -> &str {
        match self.get(node) {
            Some(n) if n.raw_len != RAW_IS_LOCAL => self.string(
                n.start + n.ns_len as usize + n.local_len as usize,
                n.raw_len as usize,
            ),
            _ => self.local_name(node),
        }
    }

    /// The text of an attribute, text node, comment or processing instruction; empty for an
    /// element or the document (their string value is the text below them).
    pub fn value(&self, node: NodeId) -> &str {
        self.get(node).map_or("", |n| {
            let raw = if n.raw_len == RAW_IS_LOCAL {
                0
            } else {
                n.raw_len as usize
            };
            let at = n.start + n.ns_len as usize + n.local_len as usize + raw;
            self.string(at, n.value_len)
        })
    }

    /// The attributes of `node`, in the order written.
    pub fn attributes(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let element = self.kind(node) == NodeKind::Element;
        let from = if element { node.0 + 1 } else { self.next_id() };
        (from..self.next_id())
            .take_while(|&i| {
                self.nodes.get(i as usize).map(|n| n.kind) == Some(NodeKind::Attribute)
            })
            .map(NodeId)
    }

    /// The first node after `node`'s attributes: its first child, if it has children.
    fn after_attributes(&self, node: NodeId) -> u32 {
        let mut at = node.0 + 1;
        while self.nodes.get(at as usize).map(|n| n.kind) == Some(NodeKind::Attribute) {
            at += 1;
        }
        at
    }

    /// The children of `node` in document order (attributes are not children).
    pub fn children(&self, node: NodeId) -> Children<'_> {
        let has_children = matches!(self.kind(node), NodeKind::Element | NodeKind::Document);
        let end = self.end(node).0;
        Children {
            tree: self,
            at: if has_children {
                self.after_attributes(node)
            } else {
                end
            },
            end,
        }
    }

    /// The descendants of `node` in document order, without attributes.
    pub fn descendants(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        (node.0 + 1..self.end(node).0)
            .filter(|&i| self.nodes.get(i as usize).map(|n| n.kind) != Some(NodeKind::Attribute))
            .map(NodeId)
    }
}

/// The children of a node, in document order: each next one starts where the previous one's
/// subtree ends.
pub struct Children<'t> {
    tree: &'t Tree,
    at: u32,
    end: u32,
}

impl Iterator for Children<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.at >= self.end {
            return None;
        }
        let node = NodeId(self.at);
        self.at = self.tree.end(node).0.max(self.at + 1);
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `<s:a xmlns:s="urn:s" id="1"><b k="v">x<!--c-->y</b>t<?p d?><c/></s:a>`, built by hand.
    fn sample() -> Tree {
        let mut tree = Tree::new();
        tree.open(Some("urn:s"), "a", "s:a", [(None, "id", "id", "1")]);
        tree.open(None, "b", "b", [(None, "k", "k", "v")]);
        tree.text("x");
        tree.comment("c");
        tree.text("y");
        tree.close();
        tree.text("t");
        tree.processing_instruction("p", Some("d"));
        tree.open(None, "c", "c", []);
        tree.close();
        tree.close();
        tree
    }

    /// A node's kind and name or value, for comparing lists of nodes.
    fn show(tree: &Tree, nodes: impl Iterator<Item = NodeId>) -> Vec<String> {
        nodes
            .map(|n| match tree.kind(n) {
                NodeKind::Element => format!("<{}>", tree.name(n)),
                NodeKind::Attribute => format!("@{}={}", tree.name(n), tree.value(n)),
                NodeKind::Text => format!("'{}'", tree.value(n)),
                NodeKind::Comment => format!("!{}", tree.value(n)),
                NodeKind::ProcessingInstruction => format!("?{} {}", tree.name(n), tree.value(n)),
                NodeKind::Document => "/".to_owned(),
            })
            .collect()
    }

    #[test]
    fn nodes_are_in_document_order_attributes_after_their_element() {
        let tree = sample();
        let all = (0..tree.len()).filter_map(|i| tree.node(i));
        assert_eq!(
            show(&tree, all),
            [
                "/", "<s:a>", "@id=1", "<b>", "@k=v", "'x'", "!c", "'y'", "'t'", "?p d", "<c>"
            ]
        );
        let a = NodeId(1);
        assert_eq!(tree.namespace_uri(a), Some("urn:s"));
        assert_eq!(tree.local_name(a), "a");
        assert_eq!(tree.name(a), "s:a");
        assert_eq!(tree.namespace_uri(NodeId(3)), None);
        assert!(tree.has_name(a, NodeKind::Element, Some("urn:s"), "a"));
        assert!(!tree.has_name(a, NodeKind::Element, None, "a"));
        assert!(!tree.has_name(a, NodeKind::Element, Some("urn:t"), "a"));
        assert!(!tree.has_name(a, NodeKind::Attribute, Some("urn:s"), "a"));
        assert!(!tree.has_name(a, NodeKind::Element, Some("urn:s"), "ab"));
        assert!(tree.has_name(NodeId(4), NodeKind::Attribute, None, "k"));
        assert!(!tree.has_name(NodeId(99), NodeKind::Element, None, "k"));
        assert_eq!(tree.parent(a), Some(Tree::ROOT));
        assert_eq!(
            tree.parent(NodeId(2)),
            Some(a),
            "an attribute's parent is its element"
        );
        assert_eq!(tree.parent(Tree::ROOT), None);
        assert_eq!(tree.end(a), NodeId(11));
        assert_eq!(tree.end(NodeId(3)), NodeId(8));
    }

    #[test]
    fn children_skip_attributes_and_subtrees() {
        let tree = sample();
        let a = NodeId(1);
        assert_eq!(show(&tree, tree.children(a)), ["<b>", "'t'", "?p d", "<c>"]);
        assert_eq!(show(&tree, tree.children(Tree::ROOT)), ["<s:a>"]);
        assert_eq!(show(&tree, tree.attributes(a)), ["@id=1"]);
        assert_eq!(show(&tree, tree.children(NodeId(2))), Vec::<String>::new());
        assert_eq!(
            show(&tree, tree.attributes(NodeId(5))),
            Vec::<String>::new()
        );
        assert_eq!(
            show(&tree, tree.descendants(a)),
            ["<b>", "'x'", "!c", "'y'", "'t'", "?p d", "<c>"]
        );
    }

    #[test]
    fn a_node_takes_40_bytes_besides_its_strings() {
        assert!(std::mem::size_of::<Node>() <= 40);
    }

    #[test]
    fn adjacent_text_is_one_node() {
        let mut tree = Tree::new();
        tree.open(None, "a", "a", []);
        tree.text("x");
        tree.text("");
        tree.text("y");
        tree.open(None, "b", "b", []);
        tree.close();
        tree.text("z");
        tree.close();
        let texts: Vec<_> = show(&tree, tree.descendants(NodeId(1)));
        assert_eq!(texts, ["'xy'", "<b>", "'z'"]);
    }

    #[test]
    fn open_elements_end_at_the_end_of_the_tree() {
        let mut tree = Tree::new();
        let site = tree.open(None, "site", "site", [(None, "name", "name", "paris")]);
        let row = tree.open(None, "row", "row", []);
        assert_eq!(tree.end(site), NodeId(4));
        tree.text("5");
        assert_eq!(tree.end(row), NodeId(5));
        assert_eq!(show(&tree, tree.children(row)), ["'5'"]);
        assert_eq!(tree.parent(row), Some(site));
    }

    #[test]
    fn clear_and_truncate_reuse_the_memory() {
        let mut tree = sample();
        let (nodes, strings) = (tree.nodes.capacity(), tree.strings.capacity());
        tree.clear();
        assert!(tree.is_empty());
        assert_eq!(tree.nodes.capacity(), nodes);
        assert_eq!(tree.strings.capacity(), strings);

        let site = tree.open(None, "site", "site", []);
        let first = tree.open(None, "row", "row", [(None, "id", "id", "1")]);
        tree.text("one");
        tree.truncate_to(first);
        assert_eq!(tree.len(), 2);
        assert_eq!(
            tree.strings, "site",
            "the dropped subtree's strings are gone"
        );
        let second = tree.open(None, "row", "row", [(None, "id", "id", "2")]);
        assert_eq!(second, first, "the next row takes the freed ids");
        assert_eq!(tree.parent(second), Some(site));
        tree.close();
        tree.close();
        assert_eq!(show(&tree, tree.children(site)), ["<row>"]);
        assert_eq!(show(&tree, tree.attributes(second)), ["@id=2"]);
        // Closing more than was opened, or truncating past the end, does nothing.
        tree.close();
        tree.truncate_to(NodeId(99));
        assert_eq!(tree.len(), 4);
    }
}
