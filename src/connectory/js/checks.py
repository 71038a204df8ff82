def check_code(*a, **k): return []
