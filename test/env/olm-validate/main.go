// Command olm-validate checks an OLM bundle directory (registry+v1: manifests/, metadata/) with
// operator-framework's own validators, the ones `operator-sdk bundle validate` runs:
//
//   - operator-registry's bundle format and content checks (pkg/lib/bundle: annotations.yaml,
//     supported kinds, object metadata), as `opm alpha bundle validate` and operator-sdk do;
//   - operator-framework/api's default bundle validators (CSV, CRD, bundle) and, with
//     -optional (default on), operatorhubv2, capabilities, categories, good-practices,
//     alpha-deprecated-apis and the object (PDB) validator, for -k8s-version.
//
// It prints one JSON object on stdout: {"errors": [...], "warnings": [...]}, each finding as
// {"validator", "name", "type", "field", "detail"}, and exits 1 when there is any error, 0 when
// there are only warnings, 2 on bad usage or an unreadable bundle.
//
// Usage: olm-validate [-optional=true] [-k8s-version 1.34] <bundle dir>
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	verrors "github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
	registrybundle "github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"github.com/sirupsen/logrus"
)

type finding struct {
	Validator string `json:"validator"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Field     string `json:"field,omitempty"`
	Detail    string `json:"detail"`
}

type report struct {
	Bundle   string    `json:"bundle"`
	Errors   []finding `json:"errors"`
	Warnings []finding `json:"warnings"`
}

func main() {
	optional := flag.Bool("optional", true, "also run the optional operatorframework suite (operatorhubv2, capabilities, categories, good-practices, alpha-deprecated-apis, objects)")
	k8sVersion := flag.String("k8s-version", "1.34", "Kubernetes version for the deprecated/removed API checks")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: olm-validate [-optional=true] [-k8s-version 1.34] <bundle dir>")
		os.Exit(2)
	}
	dir, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := report{Bundle: dir, Errors: []finding{}, Warnings: []finding{}}

	// operator-registry: format (annotations.yaml, directories) and content (kinds, metadata)
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	logger.SetLevel(logrus.WarnLevel)
	v := registrybundle.NewImageValidator(nil, logrus.NewEntry(logger))
	if err := v.ValidateBundleFormat(dir); err != nil {
		out.Errors = append(out.Errors, registryFindings("bundle-format", err)...)
	}
	if err := v.ValidateBundleContent(filepath.Join(dir, "manifests")); err != nil {
		out.Errors = append(out.Errors, registryFindings("bundle-content", err)...)
	}

	// operator-framework/api
	bundle, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loading %s: %v\n", dir, err)
		os.Exit(2)
	}
	objs := bundle.ObjectsToValidate()
	validators := interfaces.Validators{}
	validators = append(validators, validation.DefaultBundleValidators...)
	if *optional {
		objs = append(objs, map[string]string{"k8s-version": *k8sVersion})
		validators = append(validators,
			validation.ObjectValidator,
			validation.OperatorHubV2Validator,
			validation.StandardCapabilitiesValidator,
			validation.StandardCategoriesValidator,
			validation.GoodPracticesValidator,
			validation.AlphaDeprecatedAPIsValidator,
		)
	}
	for _, r := range validators.Validate(objs...) {
		for _, e := range r.Errors {
			out.Errors = append(out.Errors, apiFinding(r, e))
		}
		for _, w := range r.Warnings {
			out.Warnings = append(out.Warnings, apiFinding(r, w))
		}
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	if len(out.Errors) > 0 {
		os.Exit(1)
	}
}

func apiFinding(r verrors.ManifestResult, e verrors.Error) finding {
	return finding{Validator: "api", Name: r.Name, Type: string(e.Type), Field: e.Field, Detail: e.Error()}
}

func registryFindings(validator string, err error) []finding {
	if ve, ok := err.(registrybundle.ValidationError); ok && len(ve.Errors) > 0 {
		fs := make([]finding, 0, len(ve.Errors))
		for _, e := range ve.Errors {
			fs = append(fs, finding{Validator: validator, Type: "Error", Detail: e.Error()})
		}
		return fs
	}
	return []finding{{Validator: validator, Type: "Error", Detail: err.Error()}}
}
