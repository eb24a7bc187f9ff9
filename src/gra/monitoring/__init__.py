"""Production monitoring: the inference log (what was answered, never the audio) and the
Evidently drift report that compares it with the champion's training features."""
