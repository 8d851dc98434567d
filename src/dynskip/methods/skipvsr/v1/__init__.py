"""SkipVSR v1 (registry ``skipvsr``): BasicVSR with per-tile, per-block-group skipping."""
