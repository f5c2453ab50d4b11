# Copyright 2026 The hybrid_fusion_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Offline tools of hybrid_fusion: bags, datasets, training, evaluation and benchmarks.

Layers, each using only those below it (a lint test checks it): ``common`` (machine facts,
plots) < ``bags`` (read, write, replay) < ``data`` (plan, windows cache, datasets, simulation)
< ``training`` < ``evaluation`` < ``bench`` < ``cli``. Every layer may use the runtime package
``hybrid_fusion_ros`` below it, never the reverse."""
