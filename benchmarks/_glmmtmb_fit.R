# Fit a negative-binomial GLMM with glmmTMB to long-format counts handed over by glmm_agreement.py.
#
# Model (one row per valid neuron x trial of data.csv):
#
#   count ~ <fixed> + (<effects> | neuron) + offset(log(duration)),  family = nbinom2
#   Var = mu + mu^2 / theta  (theta is spikepool's alpha), dispformula = ~ 0 + neuron (one theta per neuron)
#   or ~ 1 (one theta for all)
#
# config.json holds "formula" (the R formula without the offset), "dispersion" ("neuron" or "shared"),
# "factors" ({column: [levels, reference first]}) and "scale" ([columns]): a scaled column z_<name> =
# (x - mean) / sd over the rows, with the population sd (divisor n, as formulae's scale()).
# out.json receives the fixed effects (estimate, SE), the random-effect SDs and correlations, theta,
# convergence flags, the wall time of the fit (s) and the versions.
#
# Usage (by glmm_agreement.py):  Rscript _glmmtmb_fit.R data.csv config.json out.json

suppressPackageStartupMessages({
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript _glmmtmb_fit.R data.csv config.json out.json")
config <- fromJSON(args[2], simplifyVector = TRUE)
data <- read.csv(args[1], stringsAsFactors = FALSE)
data$neuron <- factor(data$neuron, levels = unique(data$neuron))
for (name in names(config$factors)) {
  data[[name]] <- factor(data[[name]], levels = config$factors[[name]])
}
for (name in config$scale) {
  x <- data[[name]]
  data[[paste0("z_", name)]] <- (x - mean(x)) / sqrt(mean((x - mean(x))^2))
}

formula <- as.formula(paste(config$formula, "+ offset(log(duration))"))
dispformula <- if (config$dispersion == "neuron") ~ 0 + neuron else ~ 1
start <- proc.time()[["elapsed"]]
fit <- glmmTMB(formula, data = data, family = nbinom2, dispformula = dispformula)
wall <- proc.time()[["elapsed"]] - start

fixed <- summary(fit)$coefficients$cond
vc <- VarCorr(fit)$cond$neuron
sds <- attr(vc, "stddev")
corr <- attr(vc, "correlation")
pairs <- list()
if (!is.null(corr) && nrow(corr) > 1) {
  for (i in 2:nrow(corr)) {
    for (j in 1:(i - 1)) {
      pairs[[length(pairs) + 1]] <- list(row = rownames(corr)[i], col = colnames(corr)[j], value = corr[i, j])
    }
  }
}
log_theta <- fixef(fit)$disp
out <- list(
  fixed = lapply(seq_len(nrow(fixed)), function(i) {
    list(name = rownames(fixed)[i], estimate = fixed[i, "Estimate"], se = fixed[i, "Std. Error"])
  }),
  sd = as.list(sds),
  corr = pairs,
  theta = as.list(exp(log_theta)),
  dispersion = config$dispersion,
  converged = isTRUE(fit$sdr$pdHess) && fit$fit$convergence == 0,
  pd_hess = isTRUE(fit$sdr$pdHess),
  message = fit$fit$message,
  wall_s = wall,
  n_obs = nrow(data),
  versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null"), args[3])
