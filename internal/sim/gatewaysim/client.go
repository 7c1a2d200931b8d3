package gatewaysim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a simulator's admin and bank API over HTTP, for tests and
// benchmarks that run gatewaysim as a separate process. Errors from the
// simulator wrap ErrInvalid, ErrNotFound or ErrConflict as the Sim methods'
// do.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8090
	HTTP    *http.Client // default http.DefaultClient
	// Timeout is each call's own deadline (default 30s).
	Timeout time.Duration
}

// maxAnswer bounds what the client reads of an answer.
const maxAnswer = 256 << 20

// do sends in (JSON, unless nil) and returns the answer's body; a status
// other than want is an error.
func (c *Client) do(ctx context.Context, method, path string, in any, want int) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("gatewaysim client: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("gatewaysim client: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gatewaysim client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("gatewaysim client: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return nil, &APIError{Op: method + " " + path, Status: resp.StatusCode, Message: e.Error}
	}
	return data, nil
}

// APIError is an error answer of the simulator. It unwraps to ErrInvalid
// (400), ErrNotFound (404) or ErrConflict (409).
type APIError struct {
	Op      string // method and path
	Status  int
	Message string // the answer's "error"
}

func (e *APIError) Error() string {
	return fmt.Sprintf("gatewaysim client: %s: HTTP %d: %s", e.Op, e.Status, e.Message)
}

func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	}
	return nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any, want int) error {
	data, err := c.do(ctx, method, path, in, want)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("gatewaysim client: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Pay completes a payment (POST /admin/pay).
func (c *Client) Pay(ctx context.Context, req PayRequest) (PayResult, error) {
	var res PayResult
	err := c.call(ctx, http.MethodPost, "/admin/pay", req, &res, http.StatusOK)
	return res, err
}

// Transactions lists transactions (GET /admin/transactions).
func (c *Client) Transactions(ctx context.Context, f TransactionFilter) ([]Transaction, error) {
	q := url.Values{}
	for k, v := range map[string]string{"gateway": f.Gateway, "ref": f.Ref, "status": string(f.Status)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var res struct {
		Transactions []Transaction `json:"transactions"`
	}
	err := c.call(ctx, http.MethodGet, "/admin/transactions?"+q.Encode(), nil, &res, http.StatusOK)
	return res.Transactions, err
}

// Transfer books a credit on the treasury account (POST /admin/transfer).
func (c *Client) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	var t Transfer
	err := c.call(ctx, http.MethodPost, "/admin/transfer", req, &t, http.StatusCreated)
	return t, err
}

// SetFaults replaces a gateway's faults (POST /admin/faults/{gateway}).
func (c *Client) SetFaults(ctx context.Context, gateway string, f Faults) error {
	return c.call(ctx, http.MethodPost, "/admin/faults/"+url.PathEscape(gateway), f, nil, http.StatusOK)
}

// SetFileDiscrepancies arms discrepancies for a gateway's next settlement
// file (POST /admin/discrepancies/{gateway}).
func (c *Client) SetFileDiscrepancies(ctx context.Context, gateway string, d FileDiscrepancies) error {
	return c.call(ctx, http.MethodPost, "/admin/discrepancies/"+url.PathEscape(gateway), d, nil, http.StatusOK)
}

// SetBankDiscrepancies arms bank discrepancies (POST /admin/discrepancies/bank).
func (c *Client) SetBankDiscrepancies(ctx context.Context, d BankDiscrepancies) error {
	return c.call(ctx, http.MethodPost, "/admin/discrepancies/bank", d, nil, http.StatusOK)
}

// Settlement fetches a settlement file (GET /admin/settlements/{gateway}/{day});
// revision 0 is the latest.
func (c *Client) Settlement(ctx context.Context, gateway, day string, revision int) ([]byte, error) {
	path := "/admin/settlements/" + url.PathEscape(gateway) + "/" + url.PathEscape(day)
	if revision > 0 {
		path += "?revision=" + strconv.Itoa(revision)
	}
	return c.do(ctx, http.MethodGet, path, nil, http.StatusOK)
}

// ReviseSettlement issues a corrected revision
// (POST /admin/settlements/{gateway}/{day}/revise).
func (c *Client) ReviseSettlement(ctx context.Context, gateway, day string) (SettlementInfo, error) {
	var info SettlementInfo
	err := c.call(ctx, http.MethodPost, "/admin/settlements/"+url.PathEscape(gateway)+"/"+url.PathEscape(day)+"/revise",
		nil, &info, http.StatusCreated)
	return info, err
}

// CAMT053 fetches the treasury account's statement of a day.
func (c *Client) CAMT053(ctx context.Context, day string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/bank/statements/camt053/"+url.PathEscape(day), nil, http.StatusOK)
}

// CAMT054 fetches the credit notification of the transfers booked after since.
func (c *Client) CAMT054(ctx context.Context, since time.Time) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/bank/notifications/camt054?since="+url.QueryEscape(since.Format(time.RFC3339Nano)),
		nil, http.StatusOK)
}

// Callbacks waits up to wait for the callbacks in flight to finish, then
// returns how many are still in flight and the logged attempts of gateway
// and ref ("" for all) (GET /admin/callbacks).
func (c *Client) Callbacks(ctx context.Context, gateway, ref string, wait time.Duration) (int64, []CallbackAttempt, error) {
	q := url.Values{"wait": {wait.String()}}
	if gateway != "" {
		q.Set("gateway", gateway)
	}
	if ref != "" {
		q.Set("ref", ref)
	}
	var res struct {
		InFlight int64             `json:"in_flight"`
		Attempts []CallbackAttempt `json:"attempts"`
	}
	err := c.call(ctx, http.MethodGet, "/admin/callbacks?"+q.Encode(), nil, &res, http.StatusOK)
	return res.InFlight, res.Attempts, err
}
