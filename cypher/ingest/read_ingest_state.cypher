// Which saved state the graph holds (ingest/sync.py): the lineage of the state files it was
// written from and the last generation written into it. No node: the graph was never written by
// an ingest, or was emptied since.
OPTIONAL MATCH (s:IngestState {name: 'graph'})
RETURN s.lineage AS lineage, s.generation AS generation
