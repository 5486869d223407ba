"""The numpy core: sufficient-statistic cells, count families, closed forms, the parameterisation rule and
shrinkage arithmetic, empirical Fano factors and the counts' summary. Nothing here imports PyMC."""
