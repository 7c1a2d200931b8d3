package payments_test

import "github.com/civicpay/civicpay/internal/config"

type apptestConfig = config.Config
