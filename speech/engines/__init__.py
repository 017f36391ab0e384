"""Recognition engines behind `speech.transcribe.Transcriber`. Each imports its own library."""
