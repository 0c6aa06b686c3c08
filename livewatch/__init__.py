"""livewatch top floor: configuration, the stream worker, the CLI."""
