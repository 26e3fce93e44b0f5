"""End-to-end verification of the dashboards and alert rules against a real Prometheus.

``python verify/run.py`` runs the simulator, several ``axio-anthropic load`` processes and a
Prometheus that scrapes them, then checks every dashboard panel query and every rule through
Prometheus' HTTP API; ``python verify/render.py`` draws the dashboards from that run's data.
"""
