// Glue between the Rust app and Cytoscape.js: the library lays out and draws the graph
// (concentric layout, pan, zoom, selection); names are set as data, never as HTML.
window.memoriGraph = {
  render(container, json, onSelect) {
    const g = JSON.parse(json);
    if (container._cy) { container._cy.destroy(); }
    const elements = [
      ...g.nodes.map(n => ({ data: { id: String(n.id), label: n.name, type: n.node_type } })),
      ...g.edges.map(e => ({ data: { id: 'e' + e.id, source: String(e.source), target: String(e.target),
                                     label: e.predicate, old: e.invalidated_at ? 1 : 0 } })),
    ];
    const cy = cytoscape({
      container,
      elements,
      wheelSensitivity: 0.3,
      minZoom: 0.2,
      maxZoom: 3,
      style: [
        // Long names wrap in a fixed width and labels get a backdrop, so that crowded rings stay
        // legible; edge labels show only when zoomed in far enough to read them.
        { selector: 'node', style: { 'label': 'data(label)', 'background-color': '#4f6bed', 'color': '#1d2433',
          'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, 'width': 18, 'height': 18,
          'text-wrap': 'wrap', 'text-max-width': 110, 'text-background-color': '#ffffff',
          'text-background-opacity': 0.85, 'text-background-padding': 2, 'min-zoomed-font-size': 7 } },
        { selector: 'node[type = "person"]', style: { 'background-color': '#e0803a' } },
        { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#1d2433' } },
        { selector: 'edge', style: { 'label': 'data(label)', 'font-size': 9, 'curve-style': 'bezier',
          'target-arrow-shape': 'triangle', 'line-color': '#9aa4b8', 'target-arrow-color': '#9aa4b8',
          'text-rotation': 'autorotate', 'color': '#5a6478', 'min-zoomed-font-size': 10 } },
        { selector: 'edge[old = 1]', style: { 'line-style': 'dashed', 'opacity': 0.5 } },
      ],
      // An entity's graph is an ego network around the user: rings by degree read best.
      // Spacing grows with the graph so that labels (up to ~110 px wide) do not overlap.
      layout: { name: 'concentric', concentric: n => n.degree(), levelWidth: () => 1,
                minNodeSpacing: g.nodes.length > 15 ? 90 : 50, avoidOverlap: true, padding: 40, animate: false },
    });
    // A small graph fitted to the box would be drawn huge: cap the initial zoom.
    if (cy.zoom() > 1.1) { cy.zoom(1.1); cy.center(); }
    cy.on('tap', 'node', evt => onSelect(evt.target.id()));
    container._cy = cy;
  },
};
