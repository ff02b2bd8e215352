//! Stage 3 for the DOM engine: the checked scan of [`crate::xml`] -> an sxd-document `Package`,
//! and the document order of its nodes.
//!
//! [`load`] and [`parse`] build the tree from the content the one checked scan hands on
//! ([`xml::scan_file`], [`xml::scan`]), rather than running sxd-document's own parser over the
//! text after the scan: the input is read once, in 64 KiB pieces, and never held whole. The
//! scan runs on a second thread while this one builds. Another [`Sink`] (the streaming engine)
//! can take the same content in the same pass.
//!
//! The tree is the one sxd-document 0.3.2's parser builds (`sxd_document::parser::parse`), node
//! for node, with the repairs the XPath data model needs and which xml2prom used to make after
//! parsing:
//!
//! - adjacent character data, CDATA sections and references are one text node, as XPath has
//!   them (sxd-document makes one node of each, so `text()` of `<a>x&amp;y</a>` would be `x`);
//! - an unprefixed element is in the default namespace the nearest `xmlns="..."` declares, as
//!   the XML Namespaces spec says (<https://www.w3.org/TR/xml-names/#defaulting>): sxd-document
//!   ignores `xmlns` on a prefixed element, does not let `xmlns=""` undeclare it for
//!   descendants, and takes `p:xmlns="..."` for a second default namespace declaration, where it
//!   is an ordinary attribute.
//!
//! Each element's lists of children and attributes are shrunk to fit when it ends: the tree is
//! held whole while the rules run, and a list that grew by doubling would keep up to half of
//! itself unused.
//!
//! Otherwise it copies sxd-document exactly: attributes sorted by prefix and local name, the
//! `xml` prefix registered on the root element, each element's `xmlns:p` declarations
//! registered on it and its preferred prefix set, whitespace outside the root element dropped,
//! comments and processing instructions kept wherever they are, `<![CDATA[]]>` alone giving an
//! empty text node. Where sxd-document departs from XML 1.0 it does not copy it: the scan hands
//! on text with its line ends normalised (§2.11) and attribute values normalised (§3.3.3),
//! which sxd-document does not do.
//!
//! sxd-document's own document ordering (`Nodeset::document_order`) walks the whole document
//! into a hash map on every call. [`sort_in_document_order`] looks only at the parents of the
//! nodes it sorts, below their deepest common ancestor.

use std::path::Path;
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};
use sxd_document::dom::{self, Document, Element};
use sxd_document::{Package, QName};
use sxd_xpath::nodeset::Node;

use crate::xml::{self, Sink, StartTag, XmlError, XmlLimits};

/// The namespace the `xml` prefix is bound to; sxd-document registers it on the root element.
/// See <https://www.w3.org/TR/xml-names/#ns-decl>.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Reads a file with the checks of [`xml::scan_file`] and builds its DOM as it goes; `also`
/// receives the same content (pass [`xml::NoSink`] for nothing). Refuses exactly what
/// [`xml::scan_file`] refuses, with the same error.
///
/// The scan runs on a second thread ([`xml::scan_file_in_parallel`]): building the tree costs
/// more than reading and checking the file, and the two overlap.
pub fn load(path: &Path, limits: &XmlLimits, also: &mut dyn Sink) -> Result<Package, XmlError> {
    build(also, |sink| xml::scan_file_in_parallel(path, limits, sink))
}

/// Checks a document in memory as [`xml::scan`] does and builds its DOM; `also` receives the
/// same content. Refuses exactly what [`xml::scan`] refuses, with the same error.
pub fn parse(bytes: &[u8], limits: &XmlLimits, also: &mut dyn Sink) -> Result<Package, XmlError> {
    build(also, |sink| xml::scan_in_parallel(bytes, limits, sink))
}

fn build(
    also: &mut dyn Sink,
    scan: impl FnOnce(&mut dyn Sink) -> Result<(), XmlError>,
) -> Result<Package, XmlError> {
    let package = Package::new();
    {
        let mut builder = Builder::new(package.as_document(), also);
        scan(&mut builder)?;
        if builder.lost_track {
            return Err(XmlError::NotWellFormed {
                line: 1,
                column: 1,
                message: "xml2prom could not resolve a namespace prefix the scan accepted; this \
                          is a bug, please report it"
                    .to_owned(),
            });
        }
    }
    Ok(package)
}

/// Builds the tree from the scan's content, as sxd-document's `DomBuilder` does from its
/// parser's tokens.
struct Builder<'d, 's> {
    document: Document<'d>,
    also: &'s mut dyn Sink,
    /// The open elements, innermost last.
    open: Vec<Element<'d>>,
    /// The default namespace inside each open element, innermost last.
    defaults: Vec<Option<Rc<str>>>,
    /// The text of the current run of character data, CDATA sections and references.
    text: String,
    /// Whether a run of text is open (possibly empty: `<![CDATA[]]>`).
    in_text: bool,
    /// Whether a namespace prefix could not be resolved (the scan refuses such documents).
    lost_track: bool,
}

impl<'d, 's> Builder<'d, 's> {
    fn new(document: Document<'d>, also: &'s mut dyn Sink) -> Self {
        Builder {
            document,
            also,
            open: Vec::new(),
            defaults: Vec::new(),
            text: String::new(),
            in_text: false,
            lost_track: false,
        }
    }

    /// Ends the current run of text: one text node.
    fn flush_text(&mut self) {
        if !self.in_text {
            return;
        }
        self.in_text = false;
        if let Some(parent) = self.open.last() {
            parent.append_child(self.document.create_text(&self.text));
        }
        self.text.clear();
        // One huge text node should not keep its size reserved for the rest of the document.
        self.text.shrink_to(TEXT_BUFFER_KEPT);
    }

    /// Adds a comment or processing instruction to the open element, or to the root node
    /// outside the root element.
    fn append(&mut self, child: impl Into<dom::ChildOfRoot<'d>>) {
        let child = child.into();
        match self.open.last() {
            Some(parent) => parent.append_child(child),
            None => self.document.root().append_child(child),
        }
    }

    fn start_element(&mut self, tag: &StartTag<'_>) {
        let (prefix, local) = split_name(tag.name());
        // Namespace declarations (`xmlns:p`, `xmlns`) and the other attributes, as written.
        let mut declarations: Vec<(&str, std::borrow::Cow<'_, str>)> = Vec::new();
        let mut declared_default = None;
        // (prefix, local name, raw value); on the stack for all but unusual tags.
        let mut inline: [(Option<&str>, &str, &str); INLINE_ATTRIBUTES] =
            [(None, "", ""); INLINE_ATTRIBUTES];
        let mut spilled = Vec::new();
        let mut count = 0;
        if tag.has_attributes() {
            for (name, raw) in tag.attributes() {
                match split_name(name) {
                    (Some("xmlns"), declared) => {
                        declarations.push((declared, xml::expanded_attribute_value(raw)));
                    }
                    (None, "xmlns") => declared_default = Some(xml::expanded_attribute_value(raw)),
                    (prefix, local) => {
                        match inline.get_mut(count) {
                            Some(slot) => *slot = (prefix, local, raw),
                            None => {
                                if spilled.is_empty() {
                                    spilled.extend_from_slice(&inline);
                                }
                                spilled.push((prefix, local, raw));
                            }
                        }
                        count += 1;
                    }
                }
            }
        }
        let attributes = match inline.get_mut(..count) {
            Some(held) => held,
            None => spilled.as_mut_slice(),
        };
        let parent = self.open.last().copied();
        let inherited = self.defaults.last().cloned().flatten();
        let element = match (prefix, &declared_default) {
            (Some(prefix), _) => {
                let uri = declarations
                    .iter()
                    .find(|(declared, _)| *declared == prefix)
                    .map(|(_, uri)| &**uri)
                    .or_else(|| parent.and_then(|p| p.namespace_uri_for_prefix(prefix)));
                match uri {
                    Some(uri) => {
                        let element = self.document.create_element((uri, local));
                        element.set_preferred_prefix(Some(prefix));
                        // The default namespace a prefixed element declares (`""` when it
                        // undeclares it) is not its own name's; the `namespace::` axis
                        // reads it from here.
                        if let Some(default) = &declared_default {
                            element.set_default_namespace_uri(Some(default));
                        }
                        element
                    }
                    None => {
                        self.lost_track = true;
                        self.document.create_element(local)
                    }
                }
            }
            (None, Some(uri)) if uri.is_empty() => self.document.create_element(local),
            (None, Some(uri)) => {
                let element = self.document.create_element((&**uri, local));
                element.set_default_namespace_uri(Some(uri));
                element
            }
            (None, None) => self
                .document
                .create_element(QName::with_namespace_uri(inherited.as_deref(), local)),
        };
        for (declared, uri) in &declarations {
            element.register_prefix(declared, uri);
        }
        match parent {
            Some(parent) => parent.append_child(element),
            None => {
                element.register_prefix("xml", XML_NAMESPACE);
                self.document.root().append_child(element);
            }
        }
        attributes.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        // The list then has no spare room to give back when the element ends.
        element.reserve_attributes(attributes.len());
        for &mut (prefix, local, raw) in attributes {
            let value = xml::expanded_attribute_value(raw);
            match prefix {
                None => {
                    element.set_attribute_value(local, &value);
                }
                Some(prefix) => match element.namespace_uri_for_prefix(prefix) {
                    Some(uri) => {
                        let attribute = element.set_attribute_value((uri, local), &value);
                        attribute.set_preferred_prefix(Some(prefix));
                    }
                    None => self.lost_track = true,
                },
            }
        }
        let default = match declared_default {
            Some(uri) if uri.is_empty() => None,
            Some(uri) => Some(Rc::from(&*uri)),
            None => inherited,
        };
        self.open.push(element);
        self.defaults.push(default);
    }
}

/// How many attributes of a start tag the builder holds without allocating.
const INLINE_ATTRIBUTES: usize = 16;

/// How much of the text buffer stays reserved after a long run of text.
const TEXT_BUFFER_KEPT: usize = 64 * 1024;

impl Sink for Builder<'_, '_> {
    fn start(&mut self, tag: &StartTag<'_>, empty: bool) {
        self.also.start(tag, empty);
        self.flush_text();
        self.start_element(tag);
    }

    fn end(&mut self) {
        self.also.end();
        self.flush_text();
        if let Some(element) = self.open.pop() {
            // Its children and attributes are all there: the lists need no room to grow.
            element.shrink_to_fit();
        }
        self.defaults.pop();
    }

    fn text(&mut self, text: &str) {
        self.also.text(text);
        self.text.push_str(text);
        self.in_text = true;
    }

    fn boundary(&mut self) {
        self.also.boundary();
        self.flush_text();
    }

    fn comment(&mut self, text: &str) {
        self.also.comment(text);
        self.flush_text();
        let comment = self.document.create_comment(text);
        self.append(comment);
    }

    fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
        self.also.processing_instruction(target, value);
        self.flush_text();
        let instruction = self.document.create_processing_instruction(target, value);
        self.append(instruction);
    }
}

/// `p:name` -> (`Some("p")`, `name`); `name` -> (`None`, `name`). The scan has checked that a
/// name has at most one `:`, between two non-empty parts.
fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    }
}

/// A node that has a place among its parent's attributes or children.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Placed<'d> {
    Element(dom::Element<'d>),
    Attribute(dom::Attribute<'d>),
    Text(dom::Text<'d>),
    Comment(dom::Comment<'d>),
    ProcessingInstruction(dom::ProcessingInstruction<'d>),
}

impl<'d> Placed<'d> {
    /// `None` for the root node and namespace nodes, which have no such place.
    fn of(node: Node<'d>) -> Option<Placed<'d>> {
        match node {
            Node::Element(n) => Some(Placed::Element(n)),
            Node::Attribute(n) => Some(Placed::Attribute(n)),
            Node::Text(n) => Some(Placed::Text(n)),
            Node::Comment(n) => Some(Placed::Comment(n)),
            Node::ProcessingInstruction(n) => Some(Placed::ProcessingInstruction(n)),
            Node::Root(_) | Node::Namespace(_) => None,
        }
    }

    fn of_child(child: dom::ChildOfElement<'d>) -> Placed<'d> {
        match child {
            dom::ChildOfElement::Element(n) => Placed::Element(n),
            dom::ChildOfElement::Text(n) => Placed::Text(n),
            dom::ChildOfElement::Comment(n) => Placed::Comment(n),
            dom::ChildOfElement::ProcessingInstruction(n) => Placed::ProcessingInstruction(n),
        }
    }
}

/// A node's place in its parent, in document order: namespace nodes, then attributes, then
/// children (XPath 1.0 section 5).
const NAMESPACES: u64 = 0;
const ATTRIBUTES: u64 = 1 << 32;
const CHILDREN: u64 = 2 << 32;

/// Sorts nodes into document order (XPath 1.0 section 5). Namespace nodes of one element come
/// before its attributes, ordered by prefix.
///
/// Each node's key is its place in its parent, its parent's place in the grandparent, and so on
/// up to the deepest ancestor all the nodes share; a node comes before its descendants. Only
/// the parents of the nodes and of their ancestors below that common ancestor are read, each
/// once, so sorting the children of one element reads that element's children and no more.
// sxd nodes hash by the identity of the DOM node they point to, which never changes while the
// document lives, so the interior mutability clippy sees cannot change a key's hash.
#[allow(clippy::mutable_key_type)]
pub fn sort_in_document_order<'d>(nodes: &mut Vec<Node<'d>>) {
    if nodes.len() < 2 {
        return;
    }
    let Some(common) = common_ancestor_depth(nodes) else {
        // Nodes of different documents: there is no order to follow.
        return;
    };
    // Every node and ancestor below the common one, mapped to its place once known.
    let mut places: FxHashMap<Placed<'d>, u64> = FxHashMap::default();
    let mut parents: FxHashSet<Placed<'d>> = FxHashSet::default();
    let mut parent_list: Vec<Node<'d>> = Vec::new();
    let mut root_is_parent = false;
    for &node in nodes.iter() {
        let mut current = node;
        for _ in common..depth(node) {
            let Some(parent) = current.parent() else {
                break;
            };
            if let Some(placed) = Placed::of(current) {
                places.insert(placed, u64::MAX);
            }
            match Placed::of(parent) {
                Some(placed) => {
                    if parents.insert(placed) {
                        parent_list.push(parent);
                    }
                }
                None => root_is_parent |= matches!(parent, Node::Root(_)),
            }
            current = parent;
        }
    }
    if root_is_parent && let Some(first) = nodes.first() {
        for (i, child) in first.document().root().children().into_iter().enumerate() {
            place(
                &mut places,
                Placed::of_child(child.into()),
                CHILDREN | i as u64,
            );
        }
    }
    for parent in parent_list {
        if let Node::Element(element) = parent {
            for (i, attribute) in element.attributes().into_iter().enumerate() {
                place(
                    &mut places,
                    Placed::Attribute(attribute),
                    ATTRIBUTES | i as u64,
                );
            }
            for (i, child) in element.children().into_iter().enumerate() {
                place(&mut places, Placed::of_child(child), CHILDREN | i as u64);
            }
        }
    }
    // The keys, one after the other: each node's places from the common ancestor down.
    let mut flat: Vec<u64> = Vec::new();
    let mut keys: Vec<(usize, usize)> = Vec::with_capacity(nodes.len());
    for &node in nodes.iter() {
        let start = flat.len();
        let mut current = node;
        for _ in common..depth(node) {
            let place = match current {
                Node::Namespace(_) => NAMESPACES,
                other => Placed::of(other)
                    .and_then(|p| places.get(&p).copied())
                    .unwrap_or(u64::MAX),
            };
            flat.push(place);
            match current.parent() {
                Some(parent) => current = parent,
                None => break,
            }
        }
        flat[start..].reverse();
        keys.push((start, flat.len()));
    }
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| {
            let (start, end) = keys[i];
            &flat[start..end]
        };
        key(a)
            .cmp(key(b))
            .then_with(|| namespace_prefix(nodes[a]).cmp(&namespace_prefix(nodes[b])))
    });
    let sorted: Vec<Node<'d>> = order.into_iter().map(|i| nodes[i]).collect();
    *nodes = sorted;
}

/// The first of some nodes in document order.
pub fn first_in_document_order<'d>(nodes: impl IntoIterator<Item = Node<'d>>) -> Option<Node<'d>> {
    let mut nodes: Vec<Node<'d>> = nodes.into_iter().collect();
    sort_in_document_order(&mut nodes);
    nodes.first().copied()
}

#[allow(clippy::mutable_key_type)] // See `sort_in_document_order`.
fn place<'d>(places: &mut FxHashMap<Placed<'d>, u64>, node: Placed<'d>, at: u64) {
    if let Some(slot) = places.get_mut(&node) {
        *slot = at;
    }
}

fn namespace_prefix<'d>(node: Node<'d>) -> Option<&'d str> {
    match node {
        Node::Namespace(namespace) => Some(namespace.prefix()),
        _ => None,
    }
}

/// How many ancestors a node has (the root node has none).
fn depth(node: Node<'_>) -> usize {
    let mut depth = 0;
    let mut current = node;
    while let Some(parent) = current.parent() {
        depth += 1;
        current = parent;
    }
    depth
}

/// The depth of the deepest node that is an ancestor-or-self of every node; `None` when the
/// nodes have no common ancestor.
fn common_ancestor_depth(nodes: &[Node<'_>]) -> Option<usize> {
    let first = *nodes.first()?;
    // The first node's ancestors-or-self, root first: the common ancestor is one of them.
    let mut chain = vec![first];
    while let Some(parent) = chain.last().and_then(|n| n.parent()) {
        chain.push(parent);
    }
    chain.reverse();
    let mut common = chain.len() - 1;
    for &node in nodes.iter().skip(1) {
        let mut level = depth(node);
        let mut current = node;
        while level > common {
            current = current.parent()?;
            level -= 1;
        }
        // Now at the common ancestor's depth or above it: climb both until they meet.
        while chain.get(level) != Some(&current) {
            current = current.parent()?;
            level = level.checked_sub(1)?;
        }
        common = level;
    }
    Some(common)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    // The tests compare the trees built here with the ones sxd-document's own parser builds
    // (through xml::reference::parse, which repairs default namespaces), merged as the XPath data model
    // has them.

    /// One node of a tree, as XPath can see it, written as a line.
    fn describe(document: Document<'_>) -> Vec<String> {
        let mut lines = Vec::new();
        let mut stack: Vec<(usize, Node<'_>)> = vec![(0, document.root().into())];
        while let Some((depth, node)) = stack.pop() {
            let indent = "  ".repeat(depth);
            let line = match node {
                Node::Root(_) => "root".to_owned(),
                Node::Element(e) => {
                    let mut namespaces: Vec<String> = e
                        .namespaces_in_scope()
                        .iter()
                        .map(|n| format!("{}={}", n.prefix(), n.uri()))
                        .collect();
                    namespaces.sort();
                    let attributes: Vec<String> = e
                        .attributes()
                        .iter()
                        .map(|a| {
                            format!(
                                "{:?}:{:?}={:?} (prefix {:?}, shown as {:?})",
                                a.name().namespace_uri(),
                                a.name().local_part(),
                                a.value(),
                                a.preferred_prefix(),
                                Node::from(*a).prefixed_name()
                            )
                        })
                        .collect();
                    format!(
                        "element {:?}:{:?} (prefix {:?}, default {:?}, shown as {:?}) \
                         namespaces {namespaces:?} attributes {attributes:?}",
                        e.name().namespace_uri(),
                        e.name().local_part(),
                        e.preferred_prefix(),
                        // A prefixed element also records the default namespace it declares
                        // (for the `namespace::` axis), which sxd-document's parser drops.
                        e.default_namespace_uri()
                            .filter(|_| e.preferred_prefix().is_none()),
                        node.prefixed_name(),
                    )
                }
                Node::Text(t) => format!("text {:?}", t.text()),
                Node::Comment(c) => format!("comment {:?}", c.text()),
                Node::ProcessingInstruction(p) => {
                    format!("processing instruction {:?} {:?}", p.target(), p.value())
                }
                Node::Attribute(_) | Node::Namespace(_) => "unexpected".to_owned(),
            };
            lines.push(format!("{indent}{line}"));
            for child in node.children().into_iter().rev() {
                stack.push((depth + 1, child));
            }
        }
        lines
    }

    fn built(xml: &str) -> Vec<String> {
        let package = parse(xml.as_bytes(), &XmlLimits::default(), &mut xml::NoSink)
            .unwrap_or_else(|e| panic!("refused: {e}"));
        describe(package.as_document())
    }

    /// What sxd-document's parser gives, after xml::reference::parse's repairs, with adjacent text
    /// merged. sxd-document normalises neither line ends nor attribute values, so it is given
    /// the text as XML 1.0 reads it ([`as_xml_reads_it`]).
    fn reference(xml: &str) -> Vec<String> {
        let xml = as_xml_reads_it(xml);
        let package = xml::reference::parse(xml.as_bytes(), &XmlLimits::default())
            .unwrap_or_else(|e| panic!("{e}"));
        merge_adjacent_text(package.as_document());
        describe(package.as_document())
    }

    /// `xml` with XML 1.0's normalisations written out, for a parser that makes none: every CR
    /// LF and CR alone as LF (§2.11), then each literal tab and line feed inside an attribute
    /// value as a space (§3.3.3). Comments, CDATA sections and processing instructions are
    /// skipped over; the documents of these tests have no DOCTYPE with quotes in it.
    fn as_xml_reads_it(xml: &str) -> String {
        let xml = xml.replace("\r\n", "\n").replace('\r', "\n");
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml.as_str();
        while let Some(at) = rest.find('<') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            let end = [
                ("<!--", "-->"),
                ("<![CDATA[", "]]>"),
                ("<?", "?>"),
                ("<!", ">"),
            ]
            .iter()
            .find(|(open, _)| rest.starts_with(open))
            .map(|(_, close)| rest.find(close).map_or(rest.len(), |at| at + close.len()));
            if let Some(end) = end {
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
            // A tag: quotes stand only around attribute values.
            let mut quote = None;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match (quote, c) {
                    (None, '>') => {
                        end = i;
                        break;
                    }
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), '\t' | '\n') => {
                        out.push(' ');
                        continue;
                    }
                    _ => {}
                }
                out.push(c);
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// Merges adjacent text nodes as the XPath data model has them (the repair xml2prom made
    /// after sxd-document's parser before it built trees itself).
    fn merge_adjacent_text(document: Document<'_>) {
        let mut stack: Vec<Element<'_>> = document
            .root()
            .children()
            .into_iter()
            .filter_map(|c| c.element())
            .collect();
        while let Some(element) = stack.pop() {
            let mut run: Option<(dom::Text<'_>, String)> = None;
            let mut merged = Vec::new();
            for child in element.children() {
                match child {
                    dom::ChildOfElement::Text(text) => match &mut run {
                        Some((_, joined)) => {
                            joined.push_str(text.text());
                            merged.push(text);
                        }
                        None => run = Some((text, text.text().to_owned())),
                    },
                    other => {
                        if let Some((first, joined)) = run.take() {
                            first.set_text(&joined);
                        }
                        if let dom::ChildOfElement::Element(child) = other {
                            stack.push(child);
                        }
                    }
                }
            }
            if let Some((first, joined)) = run {
                first.set_text(&joined);
            }
            for text in merged {
                text.remove_from_parent();
            }
        }
    }

    #[track_caller]
    fn same_as_sxd_document(xml: &str) {
        assert_eq!(reference(xml), built(xml), "for {xml}");
    }

    #[test]
    fn plain_documents_match_sxd_document() {
        for xml in [
            "<a/>",
            "<a></a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<store name=\"x\">\n  <row id=\"1\" \
             kind=\"a\">t</row>\n  <row/>\n</store>\n",
            "<a>\r\n x \r y\t</a>",
            "<a b='1' c=\"2\"/>",
        ] {
            same_as_sxd_document(xml);
        }
    }

    #[test]
    fn text_is_merged_across_references_and_cdata() {
        for xml in [
            "<a>x&amp;y</a>",
            "<a>&lt;&gt;&apos;&quot;&#65;&#x42;&#x1F600;</a>",
            "<a>x<![CDATA[<y>]]>z</a>",
            "<a><![CDATA[]]></a>",
            "<a>x<![CDATA[]]></a>",
            "<a><![CDATA[]]><!--c--><![CDATA[]]></a>",
            "<a>x<!--c-->y<?p?>z<b/>w</a>",
            "<a> <b> </b> </a>",
        ] {
            same_as_sxd_document(xml);
        }
    }

    #[test]
    fn many_attributes_are_sorted_as_sxd_document_does() {
        // More than the builder holds on the stack.
        let attributes: String = (0..40).rev().map(|i| format!(" a{i:02}='{i}'")).collect();
        same_as_sxd_document(&format!("<a{attributes}/>"));
        same_as_sxd_document(&format!(
            "<a xmlns:p='urn:p'{attributes} p:z='1' xmlns='urn:d'/>"
        ));
    }

    #[test]
    fn attributes_are_sorted_and_expanded_as_sxd_document_does() {
        for xml in [
            "<a z='1' b='2' a='3'/>",
            "<a v='x &amp; y &#x41; &lt;'/>",
            "<a v=' \t\r\n '/>",
            "<a xmlns:q='urn:q' q:z='1' b='2' xml:lang='en' q:a='3'/>",
            "<a><b xml:space='preserve'/></a>",
            "<a xmlns:p='urn:p'><b p:x='1' x='2'/></a>",
        ] {
            same_as_sxd_document(xml);
        }
    }

    #[test]
    fn namespaces_match_sxd_document_after_its_repairs() {
        for xml in [
            "<a xmlns='urn:d'><b/><c xmlns=''><d/></c></a>",
            "<s:a xmlns:s='urn:s' xmlns='urn:d'><b/><s:c/></s:a>",
            "<a xmlns:p='urn:p' xmlns:q='urn:q'><p:b><q:c xmlns:q='urn:other'/></p:b></a>",
            "<a xmlns='urn:d'><b xmlns='urn:e'><c/></b><d/></a>",
            "<a xmlns:p='urn:a&amp;b'><p:b/></a>",
            "<a xmlns:xml='http://www.w3.org/XML/1998/namespace'><xml:b/></a>",
            "<a xmlns:xmlns='urn:x'/>",
            "<p:a xmlns:p='urn:p' xmlns='urn:d'><b xmlns=''><c/></b></p:a>",
        ] {
            same_as_sxd_document(xml);
        }
    }

    #[test]
    fn comments_and_instructions_match_sxd_document_inside_and_outside_the_root() {
        for xml in [
            "<!--before--><?pi before?><a/><!--after--><?pi?>",
            "<?xml version='1.0'?>\n<!-- c -->\n<a>\n<?t  v w ?>\n<?t?><?t ?></a>\n<!---->",
            "<!DOCTYPE a SYSTEM 'a.dtd'><a/>",
        ] {
            same_as_sxd_document(xml);
        }
    }

    /// A random document made of the constructs the builder must copy: namespace
    /// declarations, prefixed names, attributes with references, mixed text, CDATA sections,
    /// comments and processing instructions, inside and outside the root element.
    fn document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let names = prop::sample::select(&["a", "b", "p:c", "q:d", "r:e", "xml:f"][..]);
        let declarations = prop::sample::subsequence(
            vec![
                " xmlns:p='urn:other'",
                " xmlns:q='urn:q&amp;'",
                " xmlns:r='urn:p'",
                " xmlns='urn:d'",
                " xmlns=''",
            ],
            0..3,
        );
        let attributes = prop::sample::subsequence(
            vec![
                " x='1'",
                " y='&lt;&#65;&#x42;'",
                " p:x='2'",
                " q:y=' a\tb '",
                " xml:lang='en'",
                " z=\"'\"",
                " r:z=''",
            ],
            0..5,
        );
        let leaf = prop::sample::select(
            &[
                "t",
                " ",
                "\r\n",
                "&amp;",
                "&#10;",
                "<![CDATA[c]]>",
                "<![CDATA[]]>",
                "<!--k-->",
                "<?pi v ?>",
                "<?pi?>",
            ][..],
        )
        .prop_map(str::to_owned);
        let content = leaf.prop_recursive(4, 40, 5, move |inner| {
            (
                names.clone(),
                declarations.clone(),
                attributes.clone(),
                prop::collection::vec(inner, 0..5),
            )
                .prop_map(|(name, declarations, attributes, children)| {
                    format!(
                        "<{name}{}{}>{}</{name}>",
                        declarations.concat(),
                        attributes.concat(),
                        children.concat()
                    )
                })
        });
        (
            prop::sample::select(&["", "<?xml version='1.0'?>", "<!--c--><?pi x?>\n"][..]),
            prop::collection::vec(content, 1..4),
            prop::sample::select(&["", "\n", "<!--after-->"][..]),
        )
            .prop_map(|(prolog, children, epilog)| {
                let root = "<root xmlns:p='urn:p' xmlns:q='urn:q' xmlns:r='urn:r'>";
                format!("{prolog}{root}{}</root>{epilog}", children.concat())
            })
    }

    proptest::proptest! {
        // A failure prints the document; no file of failures is kept beside the sources.
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        #[test]
        fn random_documents_match_sxd_document(xml in document()) {
            let limits = XmlLimits::default();
            match (xml::reference::parse(xml.as_bytes(), &limits), parse(xml.as_bytes(), &limits, &mut xml::NoSink)) {
                (Ok(_), Ok(_)) => proptest::prop_assert_eq!(reference(&xml), built(&xml)),
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => proptest::prop_assert!(false, "{xml}: sxd-document {:?}, built {:?}", a.map(drop), b.map(drop)),
            }
        }
    }

    #[test]
    fn a_prefixed_xmlns_attribute_is_an_attribute() {
        // sxd-document takes `p:xmlns` for a default namespace declaration and drops it; in
        // the XML Namespaces spec it is an ordinary attribute, as the streaming engine has it.
        let xml = "<a xmlns:p='urn:p' p:xmlns='urn:v'><b/></a>";
        let package =
            parse(xml.as_bytes(), &XmlLimits::default(), &mut xml::NoSink).expect("accepted");
        let document = package.as_document();
        let a = document.root().children()[0]
            .element()
            .expect("the root element");
        let b = a.children()[0].element().expect("a child element");
        assert_eq!(a.name(), QName::new("a"));
        assert_eq!(b.name(), QName::new("b"));
        assert_eq!(a.attribute_value(("urn:p", "xmlns")), Some("urn:v"));
    }

    #[test]
    fn the_namespace_axis_sees_the_default_namespace_a_prefixed_element_declares() {
        // Issue 11, root cause E: the default namespace in scope is a namespace node (XPath 1.0
        // section 5.4), also where a prefixed element declares it, and `xmlns=''` removes it.
        let xml =
            "<p:a xmlns:p='urn:p' xmlns='urn:d'><p:b><c/></p:b><p:e xmlns=''><p:f/></p:e></p:a>";
        let package =
            parse(xml.as_bytes(), &XmlLimits::default(), &mut xml::NoSink).expect("accepted");
        let document = package.as_document();
        let count = |xpath: &str| {
            let query = sxd_xpath::Factory::new()
                .build(xpath)
                .expect("valid")
                .expect("an expression");
            let mut context = sxd_xpath::Context::new();
            context.set_namespace("p", "urn:p");
            context.set_namespace("d", "urn:d");
            query
                .evaluate(&context, document.root())
                .expect("evaluates")
                .number()
        };
        assert_eq!(count("count(/p:a/namespace::*)"), 3.0);
        assert_eq!(count("count(/p:a/p:b/namespace::*[name() = ''])"), 1.0);
        assert_eq!(count("count(//d:c/namespace::*)"), 3.0);
        assert_eq!(count("count(/p:a/p:e/namespace::*)"), 2.0);
        assert_eq!(count("count(//p:f/namespace::*[name() = ''])"), 0.0);
    }

    #[test]
    fn every_element_is_shrunk_to_fit() {
        let rows: String = (0..100)
            .map(|i| format!("<row a='{i}' b='1' c='2'>\n  <i/>t<i/><!--c--></row>\n"))
            .collect();
        let xml = format!("<s x='1'>{rows}<e/></s>");
        let package =
            parse(xml.as_bytes(), &XmlLimits::default(), &mut xml::NoSink).expect("accepted");
        let document = package.as_document();
        let mut stack: Vec<Element<'_>> = document
            .root()
            .children()
            .iter()
            .filter_map(|c| c.element())
            .collect();
        let mut seen = 0;
        while let Some(element) = stack.pop() {
            assert_eq!(element.spare_capacity(), 0, "{:?}", element.name());
            seen += 1;
            stack.extend(element.children().iter().filter_map(|c| c.element()));
        }
        assert_eq!(seen, 302);
    }

    #[test]
    fn text_split_between_reads_is_one_node() {
        let long = "x".repeat(200_000);
        let xml = format!("<a>{long}&amp;{long}</a>");
        let lines = built(&xml);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2], format!("    text {:?}", format!("{long}&{long}")));
    }

    #[test]
    fn the_scan_refuses_what_it_refuses() {
        let refused = parse(b"<a><b></a>", &XmlLimits::default(), &mut xml::NoSink);
        let scanned = xml::scan(b"<a><b></a>", &XmlLimits::default(), &mut xml::NoSink);
        match (refused, scanned) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("both should refuse"),
        }
    }

    #[test]
    fn the_other_sink_sees_the_same_content() {
        #[derive(Default)]
        struct Count {
            starts: usize,
            ends: usize,
            text: String,
            boundaries: usize,
            comments: usize,
            instructions: usize,
        }
        impl Sink for Count {
            fn start(&mut self, _tag: &StartTag<'_>, _empty: bool) {
                self.starts += 1;
            }
            fn end(&mut self) {
                self.ends += 1;
            }
            fn text(&mut self, text: &str) {
                self.text.push_str(text);
            }
            fn boundary(&mut self) {
                self.boundaries += 1;
            }
            fn comment(&mut self, _text: &str) {
                self.comments += 1;
            }
            fn processing_instruction(&mut self, _target: &str, _value: Option<&str>) {
                self.instructions += 1;
            }
        }
        let mut count = Count::default();
        let xml = "<!--x--><a>1<b/>2<!--y--><?p?>&amp;</a>";
        parse(xml.as_bytes(), &XmlLimits::default(), &mut count).expect("accepted");
        assert_eq!(
            (
                count.starts,
                count.ends,
                count.text.as_str(),
                count.boundaries,
                count.comments,
                count.instructions
            ),
            (2, 2, "12&", 2, 2, 1)
        );
    }

    /// Every node but namespace nodes, in document order: the reference for sorting.
    fn walk_in_document_order(document: Document<'_>) -> Vec<Node<'_>> {
        let mut order = Vec::new();
        let mut stack: Vec<Node<'_>> = vec![document.root().into()];
        while let Some(node) = stack.pop() {
            order.push(node);
            if let Node::Element(element) = node {
                order.extend(element.attributes().into_iter().map(Node::Attribute));
            }
            stack.extend(node.children().into_iter().rev());
        }
        order
    }

    fn sorted_names(xml: &str, query: &str) -> Vec<String> {
        let package =
            parse(xml.as_bytes(), &XmlLimits::default(), &mut xml::NoSink).expect("accepted");
        let document = package.as_document();
        let factory = sxd_xpath::Factory::new();
        let xpath = factory.build(query).expect("valid").expect("a query");
        let context = sxd_xpath::Context::new();
        let sxd_xpath::Value::Nodeset(set) = xpath
            .evaluate(&context, document.root())
            .expect("evaluates")
        else {
            panic!("not nodes");
        };
        let mut ours: Vec<Node<'_>> = set.iter().collect();
        // Scramble the order sxd-xpath's hash set gave, so the test does not depend on it.
        ours.reverse();
        let third = ours.len() / 3;
        ours.rotate_left(third);
        sort_in_document_order(&mut ours);
        let mut theirs: Vec<Node<'_>> = set.iter().collect();
        let walk = walk_in_document_order(document);
        theirs.sort_by_key(|n| walk.iter().position(|w| w == n));
        assert_eq!(ours, theirs, "for {query} on {xml}");
        ours.iter()
            .map(|n| match n {
                Node::Text(t) => format!("text {}", t.text()),
                Node::Attribute(a) => format!("@{}={}", a.name().local_part(), a.value()),
                other => other.prefixed_name().unwrap_or_else(|| "/".to_owned()),
            })
            .collect()
    }

    #[test]
    fn sorting_agrees_with_sxd_xpath_on_every_kind_of_node() {
        let xml = "<!--c--><a x='1' y='2'>t<b z='3'><c>u</c>v</b><?p?><b>w<c/></b>x</a><?q?>";
        for query in [
            "//node()",
            "//@* | //text()",
            "//b | //c | //@z",
            "/a/b/c | /a",
            "//c | //b[1]/@z | //text()",
            "/descendant-or-self::node() | //@*",
            "//b/text() | //a/text()",
        ] {
            sorted_names(xml, query);
        }
        assert_eq!(
            sorted_names(xml, "//c | //b | //@* | //text()"),
            [
                "@x=1", "@y=2", "text t", "b", "@z=3", "c", "text u", "text v", "b", "text w", "c",
                "text x"
            ]
        );
    }

    #[test]
    fn sorting_many_siblings_reads_their_parent_once() {
        let rows: String = (0..2000).map(|i| format!("<r i='{i}'/>")).collect();
        let xml = format!("<s>{rows}</s>");
        let names = sorted_names(&xml, "/s/r/@i");
        let expected: Vec<String> = (0..2000).map(|i| format!("@i={i}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn namespace_nodes_come_before_attributes() {
        let package = parse(
            b"<a xmlns:q='urn:q' xmlns:p='urn:p' z='1'/>",
            &XmlLimits::default(),
            &mut xml::NoSink,
        )
        .expect("accepted");
        let document = package.as_document();
        let factory = sxd_xpath::Factory::new();
        let xpath = factory
            .build("/a/namespace::* | /a/@*")
            .expect("valid")
            .expect("a query");
        let sxd_xpath::Value::Nodeset(set) = xpath
            .evaluate(&sxd_xpath::Context::new(), document.root())
            .expect("evaluates")
        else {
            panic!("not nodes");
        };
        let mut nodes: Vec<Node<'_>> = set.iter().collect();
        sort_in_document_order(&mut nodes);
        let names: Vec<String> = nodes
            .iter()
            .map(|n| n.prefixed_name().unwrap_or_default())
            .collect();
        assert_eq!(names, ["p", "q", "xml", "z"]);
    }
}
