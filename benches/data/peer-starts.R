# moeid glue (not the peer's code): replays the draws of meteoritsSim's initParam(nearTrue = TRUE)
# with the seed time_emnmoe.R sets before each fit, and prints each fit's start:
#   Rscript peer-starts.R 2,3,4 100000 6 > peer-starts-n1e5.csv
# the peer's exact starts: the same seed and the same random calls as initParam(nearTrue = TRUE)
args <- commandArgs(TRUE)
Ks <- as.integer(strsplit(args[1], ",")[[1]]); n <- as.numeric(args[2]); reps <- as.integer(args[3])
betasr <- matrix(c(-8, 25), ncol = 1); Asr <- matrix(c(15, -20, -5, 20), ncol = 2); Sigmasr <- matrix(c(0.3, 0.4), ncol = 2)
cat("K,n,rep,expert,beta0,beta1,b,a,nu\n")
for (rep in 0:(reps-1)) for (K in Ks) {
  set.seed(99 + K + 7919 * rep + n)
  Kt <- 2
  while (TRUE) { s <- sample(1:Kt, K, replace = TRUE); s[K] <- Kt; if (length(unique(s)) == Kt) break }
  for (i in 1:K) {
    al <- c(0, 0)
    if (i < K) { e <- stats::rnorm(n = 1, mean = 0, sd = 0.005*n^(-0.083)); al <- (if (s[i] < Kt) betasr[, s[i]] else c(0, 0)) + e }
    be <- Asr[, s[i]] + stats::rnorm(n = 1, mean = 0, sd = 0.05*n^(-0.083))
    sg <- Sigmasr[, s[i]] + abs(stats::rnorm(n = 1, mean = 0, sd = 0.005*n^(-0.25)))
    cat(sprintf("%d,%d,%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", K, as.integer(n), rep, i, al[1], al[2], be[1], be[2], sg))
  }
}
