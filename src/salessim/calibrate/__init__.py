"""From a CRM export or an event log to a scenario with its evidence, and a back-test.

Readers (:mod:`~salessim.calibrate.readers`) turn each supported format into stage rows;
:mod:`~salessim.calibrate.visits` makes the normalised visits table; the estimators
(:mod:`~salessim.calibrate.estimate`, :mod:`~salessim.calibrate.durations`) fit arrivals,
routing, censored stage times, deal values and staff; :mod:`~salessim.calibrate.writer`
writes the scenario and its evidence; :mod:`~salessim.calibrate.backtest` simulates the
result over the export's own period and sets it beside the data.
"""

#: The input formats calibrate reads, as ``--format`` names them (declared here, without
#: the readers' pandas, so the command line can list them while it builds its parser).
FORMATS = ("history", "salesforce", "hubspot", "eventlog")
