//! The knowledge graph of one entity: nodes and edges from the database, held in a petgraph
//! `StableDiGraph` for traversal; a recall index keeps one up to date edge by edge. Loading is
//! [`crate::Memori::graph`]; everything here is pure.
//!
//! Nodes are deduplicated by normalised name and type when they are written (see
//! [`crate::augment::merge::normalize_name`]); edges carry their validity and the memory that
//! states them (provenance, down to the source messages through the memory).

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use serde::{Deserialize, Serialize};

use crate::augment::merge::normalize_name;

/// A thing the entity's memories talk about, and a statement between two of them: the same
/// plain types the dashboard shows (`memori_types::admin`).
pub use memori_types::admin::{GraphEdge as Edge, GraphNode as Node};

/// Part of a graph: what a neighbourhood query returns, ready to serialise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subgraph {
    /// Nodes, in the order they were reached.
    pub nodes: Vec<Node>,
    /// Edges between them.
    pub edges: Vec<Edge>,
}

impl Subgraph {
    /// The memories behind the edges, without repeats.
    pub fn memory_ids(&self) -> Vec<i64> {
        let mut seen = HashSet::new();
        self.edges.iter().filter_map(|e| e.memory_id).filter(|id| seen.insert(*id)).collect()
    }
}

/// One entity's knowledge graph.
#[derive(Clone, Debug, Default)]
pub struct KnowledgeGraph {
    graph: StableDiGraph<Node, Edge>,
    by_id: HashMap<i64, NodeIndex>,
    by_edge: HashMap<i64, EdgeIndex>,
    /// Normalised name → the name's tokens as a space-joined needle, and its nodes.
    by_name: HashMap<String, (String, Vec<NodeIndex>)>,
}

impl KnowledgeGraph {
    /// Build from rows; edges whose nodes are missing are skipped.
    pub fn new(nodes: Vec<Node>, edges: Vec<Edge>) -> Self {
        let mut g = Self::default();
        for n in nodes {
            g.upsert_node(n);
        }
        for e in edges {
            g.upsert_edge(e);
        }
        g
    }

    /// Add a node unless its id is known (nodes do not change once written).
    pub fn upsert_node(&mut self, n: Node) {
        if self.by_id.contains_key(&n.id) {
            return;
        }
        let name = normalize_name(&n.name);
        let id = n.id;
        let ix = self.graph.add_node(n);
        self.by_id.insert(id, ix);
        let entry = self
            .by_name
            .entry(name)
            .or_insert_with_key(|name| (crate::augment::merge::tokens(name).join(" "), Vec::new()));
        entry.1.push(ix);
    }

    /// Add an edge, or replace the one with its id (its validity changed). An edge whose nodes
    /// are missing is skipped; returns whether the edge is in the graph.
    pub fn upsert_edge(&mut self, e: Edge) -> bool {
        if let Some(&ix) = self.by_edge.get(&e.id) {
            self.graph[ix] = e;
            return true;
        }
        let (Some(&a), Some(&b)) = (self.by_id.get(&e.source), self.by_id.get(&e.target)) else { return false };
        let id = e.id;
        let ix = self.graph.add_edge(a, b, e);
        self.by_edge.insert(id, ix);
        true
    }

    /// Remove the edges a memory stated (the memory was deleted).
    pub fn remove_edges_of_memory(&mut self, memory_id: i64) {
        let gone: Vec<(i64, EdgeIndex)> = self
            .by_edge
            .iter()
            .filter(|(_, ix)| self.graph[**ix].memory_id == Some(memory_id))
            .map(|(id, ix)| (*id, *ix))
            .collect();
        for (id, ix) in gone {
            self.graph.remove_edge(ix);
            self.by_edge.remove(&id);
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// All nodes.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.graph.node_weights()
    }

    /// All edges.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.graph.edge_weights()
    }

    /// Nodes with this name (any type), compared normalised.
    pub fn find(&self, name: &str) -> Vec<&Node> {
        self.by_name
            .get(&normalize_name(name))
            .map(|(_, ixs)| ixs.iter().map(|&ix| &self.graph[ix]).collect())
            .unwrap_or_default()
    }

    /// Nodes whose name occurs in `text` as whole words (for example in a recall query).
    pub fn mentioned_in(&self, text: &str) -> Vec<&Node> {
        let words: Vec<String> = crate::augment::merge::tokens(text);
        let haystack = format!(" {} ", words.join(" "));
        let mut out: Vec<&Node> = self
            .by_name
            .values()
            .filter(|(needle, _)| !needle.is_empty() && haystack.contains(&format!(" {needle} ")))
            .flat_map(|(_, ixs)| ixs.iter().map(|&ix| &self.graph[ix]))
            .collect();
        out.sort_by_key(|n| n.id);
        out
    }

    /// The edges touching a node, both ways, by edge id.
    pub fn edges_of(&self, node_id: i64) -> Vec<&Edge> {
        let Some(&ix) = self.by_id.get(&node_id) else { return Vec::new() };
        let mut out: Vec<&Edge> = [Direction::Outgoing, Direction::Incoming]
            .into_iter()
            .flat_map(|dir| self.graph.edges_directed(ix, dir).map(|e| e.weight()))
            .collect();
        out.sort_by_key(|e| e.id);
        out.dedup_by_key(|e| e.id);
        out
    }

    /// Everything within `depth` hops of the given nodes, following edges both ways.
    pub fn neighbourhood(&self, node_ids: &[i64], depth: usize) -> Subgraph {
        let mut seen: HashSet<NodeIndex> = HashSet::new();
        let mut queue: VecDeque<(NodeIndex, usize)> = VecDeque::new();
        let mut out = Subgraph::default();
        for id in node_ids {
            if let Some(&ix) = self.by_id.get(id)
                && seen.insert(ix)
            {
                queue.push_back((ix, 0));
                out.nodes.push(self.graph[ix].clone());
            }
        }
        let mut edges_seen = HashSet::new();
        while let Some((ix, d)) = queue.pop_front() {
            if d == depth {
                continue;
            }
            for dir in [Direction::Outgoing, Direction::Incoming] {
                for e in self.graph.edges_directed(ix, dir) {
                    let other = if dir == Direction::Outgoing {
                        petgraph::visit::EdgeRef::target(&e)
                    } else {
                        petgraph::visit::EdgeRef::source(&e)
                    };
                    if edges_seen.insert(petgraph::visit::EdgeRef::id(&e)) {
                        out.edges.push(e.weight().clone());
                    }
                    if seen.insert(other) {
                        out.nodes.push(self.graph[other].clone());
                        queue.push_back((other, d + 1));
                    }
                }
            }
        }
        out
    }

    /// The whole graph as a [`Subgraph`].
    pub fn to_subgraph(&self) -> Subgraph {
        Subgraph { nodes: self.nodes().cloned().collect(), edges: self.edges().cloned().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i64, name: &str, t: &str) -> Node {
        Node { id, name: name.into(), node_type: t.into() }
    }

    fn edge(id: i64, source: i64, target: i64, p: &str) -> Edge {
        Edge {
            id,
            source,
            target,
            predicate: p.into(),
            memory_id: Some(id * 10),
            valid_from: chrono::DateTime::UNIX_EPOCH,
            invalidated_at: None,
        }
    }

    fn sample() -> KnowledgeGraph {
        KnowledgeGraph::new(
            vec![
                node(1, "Maya", "person"),
                node(2, "Lyon", "place"),
                node(3, "France", "place"),
                node(4, "shellfish", "thing"),
                node(5, "C++", "language"),
            ],
            vec![
                edge(1, 1, 2, "lives_in"),
                edge(2, 2, 3, "in"),
                edge(3, 1, 4, "allergic_to"),
                edge(4, 9, 1, "dangling"),
            ],
        )
    }

    #[test]
    fn builds_and_finds_by_normalised_name() {
        let g = sample();
        assert_eq!((g.node_count(), g.edge_count()), (5, 3), "the edge to a missing node is skipped");
        assert_eq!(g.find("  the LYON ")[0].id, 2);
        assert!(g.find("Paris").is_empty());
    }

    #[test]
    fn neighbourhood_follows_edges_both_ways_up_to_depth() {
        let g = sample();
        let one = g.neighbourhood(&[2], 1);
        let ids: Vec<i64> = one.nodes.iter().map(|n| n.id).collect();
        assert_eq!(ids, [2, 3, 1]);
        assert_eq!(one.edges.len(), 2);
        let two = g.neighbourhood(&[2], 2);
        assert_eq!(two.nodes.len(), 4);
        assert_eq!(two.memory_ids(), [20, 10, 30]);
        assert!(g.neighbourhood(&[42], 3).nodes.is_empty());
    }

    #[test]
    fn edges_follow_upserts_and_deleted_memories() {
        let mut g = sample();
        let mut moved = edge(1, 1, 2, "lives_in");
        moved.invalidated_at = Some(chrono::DateTime::UNIX_EPOCH);
        assert!(g.upsert_edge(moved));
        assert_eq!(g.edge_count(), 3, "replaced, not added");
        assert!(g.edges_of(1).iter().any(|e| e.id == 1 && e.invalidated_at.is_some()));
        g.upsert_node(node(6, "Porto", "place"));
        assert!(g.upsert_edge(edge(5, 1, 6, "lives_in")));
        assert_eq!(g.find("porto")[0].id, 6);
        g.remove_edges_of_memory(30);
        assert_eq!(g.edges_of(4).len(), 0, "the allergy's edge went with its memory");
        assert_eq!(g.edge_count(), 3);
    }

    #[test]
    fn mentions_match_whole_words_with_symbols() {
        let g = sample();
        let names = |q: &str| g.mentioned_in(q).into_iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("Where in lyon does maya live?"), ["Maya", "Lyon"]);
        assert_eq!(names("is C good?"), Vec::<String>::new());
        assert_eq!(names("is C++ good?"), ["C++"]);
    }
}
