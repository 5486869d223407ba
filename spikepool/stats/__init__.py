"""The numpy core: sufficient-statistic cells, count families, closed forms, the parameterisation rule and
shrinkage arithmetic. Nothing here imports PyMC."""
