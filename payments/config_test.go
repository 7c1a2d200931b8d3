package payments_test

import "github.com/civicpay/civicpay/internal/app/config"

type apptestConfig = config.Config
