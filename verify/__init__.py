"""End-to-end verification of the dashboards and alert rules against a real Prometheus.

``python verify/run.py`` runs the simulator, several ``axio-anthropic load`` processes and a
Prometheus that scrapes them, then checks every dashboard panel query and every rule through
Prometheus' HTTP API; ``python verify/render.py`` draws the dashboards from that run's data.

The run: ``scenarios`` (what runs), ``child_commands`` (their command lines), ``processes``
(keeping them in bounds), ``promapi`` (Prometheus), ``scenario_run`` (one scenario, to a
``raw_run.RawRun``). The checks: ``scenario_report`` over ``panel_checks``, ``rule_checks`` and
``attribution``, reading answers with ``query_answers``; ``panel_series`` writes the series file.
"""
