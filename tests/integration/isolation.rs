//! Tenant isolation as a property: random interleavings of captures, repeated statements
//! (merges), contradictions (invalidations), recalls, exports, graph queries and erasures for
//! several entities. Every entity's statements carry its own marker word; no recall, export or
//! graph of one entity may ever hold another's marker, and an erasure changes no one else's
//! message count.

use std::collections::HashMap;

use memori_rig::{EntityId, ErrorKind, Memori, Message, RecallRequest, Scope};
use memori_tests::backend_test;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::instance;

const ENTITIES: usize = 4;
const NAMES: [&str; ENTITIES] = ["alpha", "bravo", "charlie", "delta"];
const PLACES: [&str; 3] = ["ville", "town", "burg"];
const THINGS: [&str; 3] = ["kites", "jazz", "chess"];

#[derive(Clone, Debug)]
enum Op {
    /// "I live in <Marker><place>": stated again it merges, with another place it invalidates.
    LiveIn {
        entity: usize,
        place: usize,
    },
    /// "I like <marker> <thing>".
    Like {
        entity: usize,
        thing: usize,
    },
    /// Recall for `entity` with a query naming `about`'s marker (often another entity's).
    Recall {
        entity: usize,
        about: usize,
    },
    Export {
        entity: usize,
    },
    Graph {
        entity: usize,
    },
    Erase {
        entity: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let e = 0..ENTITIES;
    prop_oneof![
        3 => (e.clone(), 0..PLACES.len()).prop_map(|(entity, place)| Op::LiveIn { entity, place }),
        3 => (e.clone(), 0..THINGS.len()).prop_map(|(entity, thing)| Op::Like { entity, thing }),
        3 => (e.clone(), 0..ENTITIES).prop_map(|(entity, about)| Op::Recall { entity, about }),
        1 => e.clone().prop_map(|entity| Op::Export { entity }),
        1 => e.clone().prop_map(|entity| Op::Graph { entity }),
        1 => e.prop_map(|entity| Op::Erase { entity }),
    ]
}

/// One run of a sequence in its own namespace of entity ids and marker words, so runs sharing
/// a database cannot see each other either.
struct Run {
    ids: Vec<EntityId>,
    markers: Vec<String>,
    messages: HashMap<usize, u64>,
}

impl Run {
    fn new() -> anyhow::Result<Self> {
        // Letters only, so a marker is one lexical term.
        let tag: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .take(8)
            .map(|c| (b'a' + (c as u8) % 26) as char)
            .collect();
        let markers: Vec<String> = NAMES.iter().map(|n| format!("{n}{tag}")).collect();
        let ids = markers.iter().map(|m| EntityId::new(format!("tenant-{m}"))).collect::<Result<_, _>>()?;
        Ok(Self { ids, markers, messages: HashMap::new() })
    }

    fn scope(&self, entity: usize) -> anyhow::Result<Scope> {
        Ok(Scope::new(self.ids[entity].as_str(), "bot", "s1")?)
    }

    /// Fails when `json` (anything returned for `entity`) holds another entity's marker.
    fn only_own(&self, entity: usize, what: &str, json: &str) -> anyhow::Result<()> {
        let json = json.to_lowercase();
        for (other, marker) in self.markers.iter().enumerate() {
            anyhow::ensure!(
                other == entity || !json.contains(marker.as_str()),
                "{what} of {} holds {}'s data: {json}",
                NAMES[entity],
                NAMES[other]
            );
        }
        Ok(())
    }

    async fn apply(&mut self, m: &Memori, op: &Op) -> anyhow::Result<()> {
        match *op {
            Op::LiveIn { entity, place } => {
                let city = format!("{}{}", capitalise(&self.markers[entity]), PLACES[place]);
                self.capture(m, entity, format!("I live in {city}")).await?;
            }
            Op::Like { entity, thing } => {
                let text = format!("I like {} {}", self.markers[entity], THINGS[thing]);
                self.capture(m, entity, text).await?;
            }
            Op::Recall { entity, about } => {
                m.flush().await?;
                let query = format!("where does {} live and what do they like", self.markers[about]);
                let recalled =
                    m.recall_with(&self.ids[entity], RecallRequest::new(query).with_history()).await?.memories;
                self.only_own(entity, "recall", &serde_json::to_string(&recalled)?)?;
            }
            Op::Export { entity } => match m.export_entity(&self.ids[entity], "proptest").await {
                Ok(export) => self.only_own(entity, "export", &serde_json::to_string(&export)?)?,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    anyhow::ensure!(self.messages.get(&entity).copied().unwrap_or(0) == 0, "export lost {e}");
                }
                Err(e) => return Err(e.into()),
            },
            Op::Graph { entity } => {
                m.flush().await?;
                match m.graph_view(&self.ids[entity], memori_rig::Validity::All).await {
                    Ok(graph) => self.only_own(entity, "graph", &serde_json::to_string(&graph)?)?,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        anyhow::ensure!(self.messages.get(&entity).copied().unwrap_or(0) == 0, "graph lost {e}");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Op::Erase { entity } => {
                m.flush().await?;
                match m.erase_entity(&self.ids[entity], "proptest", None).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
                self.messages.remove(&entity);
                for (i, id) in self.ids.iter().enumerate() {
                    let expected = self.messages.get(&i).copied().unwrap_or(0);
                    let stored = m.message_count(id).await?;
                    anyhow::ensure!(stored == expected, "{} has {stored} messages, expected {expected}", NAMES[i]);
                }
            }
        }
        Ok(())
    }

    async fn capture(&mut self, m: &Memori, entity: usize, text: String) -> anyhow::Result<()> {
        m.capture(&self.scope(entity)?, vec![Message::user(text), Message::assistant("Noted.")]).await?;
        *self.messages.entry(entity).or_default() += 2;
        Ok(())
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

backend_test!(no_operation_ever_shows_one_tenant_another_tenants_data, |url: String| async move {
    let memori = instance(&url, 2).await?;
    let cases = std::env::var("MEMORI_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&proptest::collection::vec(op(), 5..30), |ops| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let mut run = Run::new()?;
                for op in &ops {
                    run.apply(&memori, op).await.map_err(|e| anyhow::anyhow!("{op:?}: {e:#}"))?;
                }
                anyhow::Ok(())
            })
        })
        .map_err(|e| TestCaseError::fail(format!("{e:#}")))
    });
    memori.shutdown().await;
    result.map_err(|e| anyhow::anyhow!("{e}"))
});
