// Record that the graph now holds generation $generation of the saved state of lineage $lineage:
// written once the graph holds it and before the state files name it (ingest/sync.py).
MERGE (s:IngestState {name: 'graph'})
SET s.lineage = $lineage, s.generation = $generation
