//! Graph reads: an entity's nodes and edges, as recall, merge decisions and operators see them.
//! (Edges are written with the memory that states them, in [`super::augment`].)

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::entity::{kg_edges, kg_nodes};
use super::{EntityRow, db_err};
use crate::error::Result;
use crate::graph::{Edge, Node};
use crate::model::Validity;

/// Normalised names of an entity's graph nodes by id: all of them, or only those in `only`.
pub(crate) async fn node_names<C: ConnectionTrait>(
    db: &C,
    entity: EntityRow,
    only: Option<&[i64]>,
) -> Result<HashMap<i64, String>> {
    let mut q = kg_nodes::Entity::find()
        .select_only()
        .columns([kg_nodes::Column::Id, kg_nodes::Column::Normalized])
        .filter(kg_nodes::Column::EntityId.eq(entity.0));
    if let Some(ids) = only {
        q = q.filter(kg_nodes::Column::Id.is_in(ids.iter().copied()));
    }
    Ok(q.into_tuple::<(i64, String)>().all(db).await.map_err(db_err("cannot read graph nodes"))?.into_iter().collect())
}

/// An entity's graph rows: all nodes, and its current edges (every edge with
/// [`Validity::All`]).
pub(crate) async fn graph<C: ConnectionTrait>(
    db: &C,
    entity: EntityRow,
    validity: Validity,
) -> Result<(Vec<Node>, Vec<Edge>)> {
    let nodes = kg_nodes::Entity::find()
        .filter(kg_nodes::Column::EntityId.eq(entity.0))
        .all(db)
        .await
        .map_err(db_err("cannot read graph nodes"))?
        .into_iter()
        .map(|n| Node { id: n.id, name: n.name, node_type: n.node_type })
        .collect();
    let mut q = kg_edges::Entity::find().filter(kg_edges::Column::EntityId.eq(entity.0));
    if !validity.includes_invalidated() {
        q = q.filter(kg_edges::Column::InvalidatedAt.is_null());
    }
    let edges =
        q.all(db).await.map_err(db_err("cannot read graph edges"))?.into_iter().map(super::recall::edge).collect();
    Ok((nodes, edges))
}
